/// VM-function controls; IA32_VMX_VMFUNC (MSR 0x491) reports which may be 1.
///
/// Exists only when the secondary controls allow "enable VM functions".
///
/// Intel SDM Vol. 3C, "VM-Function Controls" (25.6.14 in rev. 84);
/// Intel SDM Vol. 3D, "VM Functions" (A.11 in rev. 84).
public struct VMFunctions: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: EPTP switching (VM function 0).
    public static let eptpSwitching = Self(rawValue: 1 << 0)
}
