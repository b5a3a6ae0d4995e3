import Testing
import VMXCore
@testable import SVMCore

/// CPUID leaf 0 for a 12-character vendor string (EBX, EDX, ECX order),
/// built from the text, not from the constants under test.
func leaf0(_ vendor: String, maximum: UInt32 = 0xD) -> CPUIDResult {
    let bytes = Array(vendor.utf8)
    precondition(bytes.count == 12)
    func word(_ start: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[start + $1]) << (8 * UInt32($1)) }
    }
    return CPUIDResult(eax: maximum, ebx: word(0), ecx: word(8), edx: word(4))
}

/// An Intel CPU: CPUID.1 of the Bochs skylake-x capture (ECX bit 5 set)
/// and IA32_FEATURE_CONTROL locked with VMX outside SMX (0x5).
let intelCPU = FakeCPUID(leaves: [
    0: leaf0("GenuineIntel"),
    1: CPUIDResult(eax: 0x0005_0654, ebx: 0x0001_0800, ecx: 0x77FA_F3BF, edx: 0xBFEB_FBFF),
])
var intelMSRs: FakeMSRs { FakeMSRs([0x3A: 0x5]) }

@Suite("Vendor and backend choice")
struct BackendChoiceTests {
    @Test("CPUID leaf 0 names the vendor")
    func vendor() {
        #expect(CPUVendor.read(FakeCPUID(leaves: [0: leaf0("GenuineIntel")])) == .intel)
        #expect(CPUVendor.read(FakeCPUID(leaves: [0: leaf0("AuthenticAMD")])) == .amd)
        let other = CPUVendor.read(FakeCPUID(leaves: [0: leaf0("CentaurHauls")]))
        guard case .other(let id) = other else {
            Issue.record("CentaurHauls taken for \(other)")
            return
        }
        #expect(id.text.description == "CentaurHauls")
        #expect((0..<12).map { id[$0] } == Array("CentaurHauls".utf8))
    }

    @Test("QEMU 7.2 TCG -cpu max and Bochs ryzen choose AMD-V")
    func capturedAMDModels() throws {
        for capture in [AMDModels.qemuMax, AMDModels.bochsRyzen] {
            #expect(CPUVendor.read(capture.cpu) == .amd)
            let msrs = capture.msrAccess
            #expect(try VirtualizationBackend.choose(cpuid: capture.cpu, msrs: msrs) == .svm)
            #expect(msrs.log.reads == [.vmCR])
            #expect(msrs.log.missing.isEmpty)
        }
    }

    @Test("an Intel CPU with VMX and IA32_FEATURE_CONTROL locked-enabled or unlocked chooses VT-x")
    func intel() throws {
        #expect(try VirtualizationBackend.choose(cpuid: intelCPU, msrs: intelMSRs) == .vmx)
        // Unlocked: the bring-up will lock it; nothing is written here.
        let unlocked = FakeMSRs([0x3A: 0])
        #expect(try VirtualizationBackend.choose(cpuid: intelCPU, msrs: unlocked) == .vmx)
        #expect(unlocked.writes.isEmpty)
    }

    @Test("Intel without VMX: VMXCore's message, and no MSR read")
    func intelWithoutVMX() {
        let cpu = intelCPU.with(1, ecx: 0x77FA_F3BF & ~(1 << 5))
        let msrs = FakeMSRs([:])
        let error = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: cpu, msrs: msrs)
        }
        #expect(error == .vmx(.notSupported))
        #expect(error?.message.description == "VT-x not available (CPUID.1:ECX.VMX=0)")
        #expect(msrs.log.reads.isEmpty)
    }

    @Test("Intel with IA32_FEATURE_CONTROL locked and VMX off: VMXCore's message")
    func intelLocked() {
        let error = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: intelCPU, msrs: FakeMSRs([0x3A: 0x1]))
        }
        #expect(error == .vmx(.featureControlLocked(FeatureControl(rawValue: 1))))
        #expect(error?.message == VMXError.featureControlLocked(FeatureControl(rawValue: 1)).message)
        #expect(error?.message.contains("locked with VMX disabled") == true)
    }

    @Test("AMD without SVM: CPUID 80000001h:ECX.SVM=0, and VM_CR is not read (it would #GP)")
    func amdWithoutSVM() {
        let cpu = AMDModels.qemuMax.cpu.with(0x8000_0001, ecx: 0x75 & ~(1 << 2))
        let msrs = AMDModels.qemuMax.msrAccess
        let error = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: cpu, msrs: msrs)
        }
        #expect(error == .svmNotSupported)
        #expect(error?.message.description == "AMD-V not supported: CPUID 80000001h:ECX.SVM=0")
        #expect(msrs.log.reads.isEmpty)
    }

    @Test("AMD with VM_CR.SVMDIS=1: disabled by firmware", arguments: [
        (UInt64(0x18), "locked"), (0x10, "not locked"),
    ])
    func svmDisabled(vmCR: UInt64, lock: String) {
        let msrs = FakeMSRs([0xC001_0114: vmCR])
        let error = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: AMDModels.bochsRyzen.cpu, msrs: msrs)
        }
        #expect(error == .svmDisabledByFirmware(VMCR(rawValue: vmCR)))
        #expect(error?.message.hasPrefix("AMD-V disabled by firmware (VM_CR.SVMDIS=1, \(lock))") == true)
    }

    @Test("VM_CR.LOCK alone (SVMDIS=0) does not stop AMD-V")
    func lockWithoutDisable() throws {
        #expect(try VirtualizationBackend.choose(cpuid: AMDModels.qemuMax.cpu, msrs: FakeMSRs([0xC001_0114: 0x8])) == .svm)
    }

    @Test("AMD without nested paging: CPUID 8000000Ah:EDX.NP=0")
    func noNestedPaging() {
        let cpu = AMDModels.qemuMax.cpu.with(0x8000_000A, edx: 0x1001_0000)
        let error = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: cpu, msrs: AMDModels.qemuMax.msrAccess)
        }
        #expect(error == .noNestedPaging)
        #expect(error?.message.hasPrefix("no nested paging: CPUID 8000000Ah:EDX.NP=0") == true)
    }

    @Test("AMD whose CPUID stops before 8000000Ah (or 80000001h)")
    func missingLeaves() {
        let short = AMDModels.qemuMax.cpu.with(0x8000_0000, eax: 0x8000_0008)
        let error = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: short, msrs: AMDModels.qemuMax.msrAccess)
        }
        #expect(error == .extendedLeafMissing(leaf: 0x8000_000A, maximum: 0x8000_0008))
        #expect(error?.message.description
            == "AMD-V not supported: CPUID leaf 8000000Ah not reported (highest extended leaf 0x80000008)")
        let none = AMDModels.qemuMax.cpu.with(0x8000_0000, eax: 0x8000_0000)
        let msrs = FakeMSRs([:])
        let first = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: none, msrs: msrs)
        }
        #expect(first == .extendedLeafMissing(leaf: 0x8000_0001, maximum: 0x8000_0000))
        #expect(msrs.log.reads.isEmpty)
    }

    @Test("an unknown vendor is named, unprintable bytes as ?")
    func unknownVendor() {
        let error = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: FakeCPUID(leaves: [0: leaf0("CentaurHauls")]), msrs: FakeMSRs([:]))
        }
        #expect(error?.message.hasPrefix("unknown CPU vendor \"CentaurHauls\"") == true)
        var zero = leaf0("AuthenticAMD")
        zero.ecx = 0x0044_4D41  // "AMD\0"
        let odd = #expect(throws: BackendUnavailable.self) {
            try VirtualizationBackend.choose(cpuid: FakeCPUID(leaves: [0: zero]), msrs: FakeMSRs([:]))
        }
        #expect(odd?.message.hasPrefix("unknown CPU vendor \"AuthentiAMD?\"") == true)
    }
}
