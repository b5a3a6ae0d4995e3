/// Primary VM-exit controls (VMCS field 0x400C).
///
/// Bits 0-8, 10, 11, 13, 14, 16 and 17 are default1.
///
/// Intel SDM Vol. 3C, "VM-Exit Controls" (25.7.1 in rev. 84).
public struct VMExitControls: VMXControls {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static var controlSet: VMXControlSet { .vmExit }

    /// Bit 2: save DR7 and IA32_DEBUGCTL on VM exit.
    public static let saveDebugControls = Self(rawValue: 1 << 2)
    /// Bit 9: the host is in 64-bit mode after the VM exit (also CS.L).
    public static let hostAddressSpaceSize = Self(rawValue: 1 << 9)
    /// Bit 12: load IA32_PERF_GLOBAL_CTRL on VM exit.
    public static let loadPerfGlobalControl = Self(rawValue: 1 << 12)
    /// Bit 15: acknowledge the interrupt controller on an external-interrupt exit.
    public static let acknowledgeInterruptOnExit = Self(rawValue: 1 << 15)
    /// Bit 18: save IA32_PAT on VM exit.
    public static let savePAT = Self(rawValue: 1 << 18)
    /// Bit 19: load IA32_PAT on VM exit.
    public static let loadPAT = Self(rawValue: 1 << 19)
    /// Bit 20: save IA32_EFER on VM exit.
    public static let saveEFER = Self(rawValue: 1 << 20)
    /// Bit 21: load IA32_EFER on VM exit.
    public static let loadEFER = Self(rawValue: 1 << 21)
    /// Bit 22: save the VMX-preemption timer value on VM exit.
    public static let saveVMXPreemptionTimerValue = Self(rawValue: 1 << 22)
    /// Bit 23: clear IA32_BNDCFGS on VM exit.
    public static let clearBNDCFGS = Self(rawValue: 1 << 23)
    /// Bit 24: conceal VM exits from Intel PT.
    public static let concealVMXFromPT = Self(rawValue: 1 << 24)
    /// Bit 25: clear IA32_RTIT_CTL on VM exit.
    public static let clearRTITControl = Self(rawValue: 1 << 25)
    /// Bit 26: clear IA32_LBR_CTL on VM exit.
    public static let clearLBRControl = Self(rawValue: 1 << 26)
    /// Bit 27: clear UINV on VM exit.
    public static let clearUINV = Self(rawValue: 1 << 27)
    /// Bit 28: load CET state on VM exit.
    public static let loadCETState = Self(rawValue: 1 << 28)
    /// Bit 29: load IA32_PKRS on VM exit.
    public static let loadPKRS = Self(rawValue: 1 << 29)
    /// Bit 30: save IA32_PERF_GLOBAL_CTL on VM exit.
    public static let savePerfGlobalControl = Self(rawValue: 1 << 30)
    /// Bit 31: activate the secondary VM-exit controls.
    public static let activateSecondaryControls = Self(rawValue: 1 << 31)

    /// The SDM's names of the controls above, by bit.
    static let names: InlineArray<18, (UInt32, StaticString)> = [
        (2, "save debug controls"),
        (9, "host address-space size"),
        (12, "load IA32_PERF_GLOBAL_CTRL"),
        (15, "acknowledge interrupt on exit"),
        (18, "save IA32_PAT"),
        (19, "load IA32_PAT"),
        (20, "save IA32_EFER"),
        (21, "load IA32_EFER"),
        (22, "save VMX-preemption timer value"),
        (23, "clear IA32_BNDCFGS"),
        (24, "conceal VMX from PT"),
        (25, "clear IA32_RTIT_CTL"),
        (26, "clear IA32_LBR_CTL"),
        (27, "clear UINV"),
        (28, "load CET state"),
        (29, "load PKRS"),
        (30, "save IA32_PERF_GLOBAL_CTL"),
        (31, "activate secondary controls"),
    ]

    static func name(ofBit bit: Int) -> StaticString? { lookUpName(UInt32(bit), in: names.span) }
}
