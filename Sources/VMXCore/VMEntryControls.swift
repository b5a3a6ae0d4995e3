/// VM-entry controls (VMCS field 0x4012).
///
/// Bits 0-8 and 12 are default1.
///
/// Intel SDM Vol. 3C, "VM-Entry Controls" (25.8.1 in rev. 84).
public struct VMEntryControls: VMXControls {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static var controlSet: VMXControlSet { .vmEntry }

    /// Bit 2: load DR7 and IA32_DEBUGCTL on VM entry.
    public static let loadDebugControls = Self(rawValue: 1 << 2)
    /// Bit 9: the guest is in IA-32e mode after VM entry (EFER.LMA).
    public static let ia32eModeGuest = Self(rawValue: 1 << 9)
    /// Bit 10: entry to SMM.
    public static let entryToSMM = Self(rawValue: 1 << 10)
    /// Bit 11: deactivate the dual-monitor treatment.
    public static let deactivateDualMonitorTreatment = Self(rawValue: 1 << 11)
    /// Bit 13: load IA32_PERF_GLOBAL_CTRL on VM entry.
    public static let loadPerfGlobalControl = Self(rawValue: 1 << 13)
    /// Bit 14: load IA32_PAT on VM entry.
    public static let loadPAT = Self(rawValue: 1 << 14)
    /// Bit 15: load IA32_EFER on VM entry.
    public static let loadEFER = Self(rawValue: 1 << 15)
    /// Bit 16: load IA32_BNDCFGS on VM entry.
    public static let loadBNDCFGS = Self(rawValue: 1 << 16)
    /// Bit 17: conceal VM entries from Intel PT.
    public static let concealVMXFromPT = Self(rawValue: 1 << 17)
    /// Bit 18: load IA32_RTIT_CTL on VM entry.
    public static let loadRTITControl = Self(rawValue: 1 << 18)
    /// Bit 19: load UINV on VM entry.
    public static let loadUINV = Self(rawValue: 1 << 19)
    /// Bit 20: load CET state on VM entry.
    public static let loadCETState = Self(rawValue: 1 << 20)
    /// Bit 21: load guest IA32_LBR_CTL on VM entry.
    public static let loadLBRControl = Self(rawValue: 1 << 21)
    /// Bit 22: load IA32_PKRS on VM entry.
    public static let loadPKRS = Self(rawValue: 1 << 22)

    /// The SDM's names of the controls above, by bit.
    static let names: InlineArray<14, (UInt32, StaticString)> = [
        (2, "load debug controls"),
        (9, "IA-32e mode guest"),
        (10, "entry to SMM"),
        (11, "deactivate dual-monitor treatment"),
        (13, "load IA32_PERF_GLOBAL_CTRL"),
        (14, "load IA32_PAT"),
        (15, "load IA32_EFER"),
        (16, "load IA32_BNDCFGS"),
        (17, "conceal VMX from PT"),
        (18, "load IA32_RTIT_CTL"),
        (19, "load UINV"),
        (20, "load CET state"),
        (21, "load guest IA32_LBR_CTL"),
        (22, "load PKRS"),
    ]

    static func name(ofBit bit: Int) -> StaticString? { lookUpName(UInt32(bit), in: names.span) }
}
