import Testing
import VMXCore
@testable import VMExit

/// An application processor's vCPU reads its own APIC IDs from CPUID,
/// though the table was read on the boot CPU.
@Suite struct CPUIDProcessorIDTests {
    @Test("leaf 1 EBX[31:24] and 0xB EDX take the other CPU's IDs; nothing else changes")
    func adopt() {
        var boot = SkylakeX.cpu
        boot.leaves[0xB << 32] = CPUIDResult(eax: 1, ebx: 1, ecx: 0x100, edx: 0)
        boot.leaves[0xB << 32 | 1] = CPUIDResult(eax: 4, ebx: 1, ecx: 0x201, edx: 0)
        var ap = boot
        ap.leaves[1 << 32]!.ebx = 0x0301_0800
        ap.leaves[0xB << 32]!.edx = 3
        ap.leaves[0xB << 32 | 1]!.edx = 3
        let original = CPUIDCache(reading: boot)
        var cache = original
        cache.adoptProcessorIDs(of: ap)
        #expect(cache.lookup(leaf: 1, subleaf: 0).ebx == 0x0301_0800)
        #expect(original.lookup(leaf: 1, subleaf: 0).ebx == 0x0001_0800)
        #expect(cache.lookup(leaf: 0xB, subleaf: 0).edx == 3 && cache.lookup(leaf: 0xB, subleaf: 1).edx == 3)
        #expect(cache.lookup(leaf: 0xB, subleaf: 1).ecx == 0x201)
        // An invalid level answers the x2APIC ID too.
        #expect(cache.lookup(leaf: 0xB, subleaf: 5) == CPUIDResult(eax: 0, ebx: 0, ecx: 5, edx: 3))
        for leaf: UInt32 in [0, 2, 4, 7, 0xD, 0x8000_0001] where leaf != 1 {
            #expect(cache.lookup(leaf: leaf, subleaf: 0) == original.lookup(leaf: leaf, subleaf: 0), "leaf \(leaf)")
        }
        // The quick path reads the same answer.
        #expect(withUnsafePointer(to: cache) { CPUIDCache.quickLookup(in: $0, leaf: 1, subleaf: 0) }?.ebx == 0x0301_0800)
    }
}
