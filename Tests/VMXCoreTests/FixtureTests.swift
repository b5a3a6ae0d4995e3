import Testing
@testable import VMXCore

@Suite("Bochs corei7_skylake_x fixture")
struct FixtureTests {
    @Test("the written-out table matches the captured serial log")
    func tableMatchesLog() {
        let parsed = BochsSkylakeX.parseSerialLog()
        #expect(parsed.cpuid == BochsSkylakeX.cpuidLeaf1)
        #expect(parsed.msrs == BochsSkylakeX.msrValues)
        #expect(parsed.msrs.count == 28)
    }

    @Test("CPUID.1:ECX reports VMX, not SMX, no hypervisor bit")
    func cpuidLeaf1() {
        let ecx = CPUIDFeaturesECX(rawValue: BochsSkylakeX.cpuidLeaf1.ecx)
        #expect(ecx.contains(.vmx))
        #expect(!ecx.contains(.smx))
        #expect(!ecx.contains(.hypervisor))
        #expect(ecx.contains([.pcid, .x2APIC, .xsave]))
    }
}
