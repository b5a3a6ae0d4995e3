/// IA32_EFER (MSR 0xC0000080) bits.
///
/// Intel SDM Vol. 3A, "Extended Feature Enable Register" (2.2.1 in rev. 84).
public struct EFER: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: SYSCALL/SYSRET enable.
    public static let sce = Self(rawValue: 1 << 0)
    /// Bit 8: IA-32e mode enable.
    public static let lme = Self(rawValue: 1 << 8)
    /// Bit 10: IA-32e mode active.
    public static let lma = Self(rawValue: 1 << 10)
    /// Bit 11: execute-disable bit enable.
    public static let nxe = Self(rawValue: 1 << 11)
    /// Bit 12 (AMD only; reserved on Intel): SVME, secure virtual machine
    /// enable. VMRUN, VMLOAD, VMSAVE, CLGI, VMMCALL and INVLPGA raise #UD
    /// while it is 0; it must stay 1 in a VMCB's guest EFER.
    ///
    /// AMD APM Vol. 2, "Extended Feature Enable Register (EFER)" (3.1.7 in rev. 3.42).
    public static let svme = Self(rawValue: 1 << 12)

    /// The bits Intel processors define (`svme` is not one); all others are reserved and must
    /// be 0 in the VMCS host and guest IA32_EFER fields when loaded.
    public static let defined: Self = [.sce, .lme, .lma, .nxe]
}
