import Testing
@testable import VMXCore

@Suite("VMX detection")
struct DetectionTests {
    @Test func bochsHasVMX() throws {
        try checkVMXSupport(BochsSkylakeX.cpu)
    }

    @Test func noVMXThrowsNotSupported() {
        #expect(throws: VMXError.notSupported) { try checkVMXSupport(NoVMXProcessor.cpu) }
        #expect(VMXError.notSupported.message == "VT-x not available (CPUID.1:ECX.VMX=0)")
    }

    @Test("without VMX no MSR is read (they would #GP)")
    func noVMXReadsNoMSR() {
        let msrs = BochsSkylakeX.msrs
        #expect(throws: VMXError.notSupported) { try VMXCapabilities.read(msrs, cpuid: NoVMXProcessor.cpu) }
        #expect(msrs.log.reads.isEmpty)
    }
}
