import Testing
@testable import VMXCore

@Suite("IA32_FEATURE_CONTROL policy")
struct FeatureControlTests {
    @Test("locked and enabled (Bochs: 0x5): nothing to do")
    func lockedEnabled() throws {
        #expect(try FeatureControl(rawValue: 0x5).vmxEnableAction() == .alreadyEnabled)
        var msrs = BochsSkylakeX.msrs
        #expect(try enableVMXInFeatureControl(&msrs) == .alreadyEnabled)
        #expect(msrs.writes.isEmpty)
    }

    @Test("unlocked: set lock and VMX outside SMX, keep the other bits", arguments: [
        (UInt64(0x0), UInt64(0x5)), (0x2, 0x7), (0x4, 0x5), (0x10_0000, 0x10_0005), (0x6_0000, 0x6_0005),
    ])
    func unlocked(current: UInt64, expected: UInt64) throws {
        #expect(try FeatureControl(rawValue: current).vmxEnableAction() == .write(FeatureControl(rawValue: expected)))
        var msrs = BochsSkylakeX.msrs.with([0x3A: current])
        #expect(try enableVMXInFeatureControl(&msrs) == .write(FeatureControl(rawValue: expected)))
        #expect(msrs.writes == [MSRReading(msr: .featureControl, value: expected)])
    }

    @Test("locked with VMX outside SMX disabled: an error, and no write", arguments: [UInt64(0x1), 0x3, 0x10_0001])
    func lockedDisabled(current: UInt64) {
        let error = VMXError.featureControlLocked(FeatureControl(rawValue: current))
        #expect(throws: error) { try FeatureControl(rawValue: current).vmxEnableAction() }
        var msrs = BochsSkylakeX.msrs.with([0x3A: current])
        #expect(throws: error) { try enableVMXInFeatureControl(&msrs) }
        #expect(msrs.writes.isEmpty)
    }

    @Test func lockedMessage() {
        let message = VMXError.featureControlLocked(.lock).message
        #expect(message == "IA32_FEATURE_CONTROL (MSR 0x3a) is 0x1: locked with VMX disabled (bit 2, enable VMX outside SMX, is 0); enable VT-x (Intel Virtualization Technology) in the firmware setup")
    }
}
