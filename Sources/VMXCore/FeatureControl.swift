/// IA32_FEATURE_CONTROL (MSR 0x3A): the firmware's lock on VMX.
///
/// Once bit 0 (lock) is set, the MSR cannot be written until reset; VMXON
/// outside SMX then needs bit 2. Firmware usually locks it; when it did not,
/// the hypervisor sets bits 0 and 2 itself.
///
/// Intel SDM Vol. 3C, "Enabling and Entering VMX Operation" (24.7 in rev. 84);
/// Intel SDM Vol. 4, "Architectural MSRs" (2.1 in rev. 84).
public struct FeatureControl: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: lock. Writes to the MSR #GP while it is set.
    public static let lock = Self(rawValue: 1 << 0)
    /// Bit 1: enable VMX inside SMX operation.
    public static let vmxInsideSMX = Self(rawValue: 1 << 1)
    /// Bit 2: enable VMX outside SMX operation.
    public static let vmxOutsideSMX = Self(rawValue: 1 << 2)
    /// Bit 15: SENTER global enable.
    public static let senterGlobalEnable = Self(rawValue: 1 << 15)
    /// Bit 17: SGX launch control enable.
    public static let sgxLaunchControl = Self(rawValue: 1 << 17)
    /// Bit 18: SGX global enable.
    public static let sgxGlobalEnable = Self(rawValue: 1 << 18)
    /// Bit 20: LMCE on.
    public static let lmceOn = Self(rawValue: 1 << 20)

    public var isLocked: Bool { contains(.lock) }
}

/// What to do with IA32_FEATURE_CONTROL before VMXON.
public enum FeatureControlAction: Equatable, Sendable {
    /// Locked with VMX outside SMX enabled: nothing to write.
    case alreadyEnabled
    /// Unlocked: write this value (the current one plus lock and VMX outside SMX).
    case write(FeatureControl)
}

extension FeatureControl {
    /// The policy, as a pure function of the current value:
    /// locked and enabled -> nothing to do; unlocked -> set bits 0 and 2,
    /// keep the others; locked with bit 2 clear -> `VMXError.featureControlLocked`
    /// (only the firmware can change it).
    public func vmxEnableAction() throws(VMXError) -> FeatureControlAction {
        if isLocked {
            guard contains(.vmxOutsideSMX) else { throw .featureControlLocked(self) }
            return .alreadyEnabled
        }
        return .write(union([.lock, .vmxOutsideSMX]))
    }
}

/// Reads IA32_FEATURE_CONTROL, applies `FeatureControl.vmxEnableAction()`
/// and writes the new value if there is one. Returns what was done.
@discardableResult
public func enableVMXInFeatureControl<M: MSRAccess>(_ msrs: inout M) throws(VMXError) -> FeatureControlAction {
    let current = FeatureControl(rawValue: msrs.read(.featureControl))
    let action = try current.vmxEnableAction()
    if case .write(let value) = action {
        msrs.write(.featureControl, value.rawValue)
    }
    return action
}
