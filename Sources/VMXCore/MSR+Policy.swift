/// MSRs the guest MSR policy (VMExit's `MSRPolicy`) names besides those in
/// MSR.swift. Names and numbers as in Intel SDM Vol. 4, "Model-Specific
/// Registers (MSRs)", Table 2-2 "IA-32 Architectural MSRs".
extension MSR {
    /// IA32_TSC_ADJUST (0x3B).
    public static let tscAdjust = MSR(0x3B)
    /// IA32_SPEC_CTRL (0x48).
    public static let specCtrl = MSR(0x48)
    /// IA32_PRED_CMD (0x49), write-only.
    public static let predCmd = MSR(0x49)
    /// IA32_BIOS_UPDT_TRIG (0x79), write-only: starts a microcode update.
    public static let biosUpdateTrigger = MSR(0x79)
    /// IA32_BIOS_SIGN_ID (0x8B): the microcode revision in bits 63:32.
    public static let biosSignID = MSR(0x8B)
    /// IA32_ARCH_CAPABILITIES (0x10A), read-only.
    public static let archCapabilities = MSR(0x10A)
    /// IA32_FLUSH_CMD (0x10B), write-only.
    public static let flushCmd = MSR(0x10B)
    /// IA32_MISC_ENABLE (0x1A0).
    public static let miscEnable = MSR(0x1A0)
    /// MSR_PKG_CST_CONFIG_CONTROL (0xE2), model-specific (Vol. 4, Table 2-20
    /// and later): package C-state limit, I/O MWAIT redirection, lock.
    public static let packageCStateConfigControl = MSR(0xE2)
    /// MSR_POWER_CTL (0x1FC), model-specific: C1E promotion and other
    /// package power controls.
    public static let powerControl = MSR(0x1FC)
    /// IA32_XSS (0xDA0): the supervisor state components XSAVES/XRSTORS manage.
    public static let xss = MSR(0xDA0)
    /// IA32_TSC_DEADLINE (0x6E0).
    public static let tscDeadline = MSR(0x6E0)
}
