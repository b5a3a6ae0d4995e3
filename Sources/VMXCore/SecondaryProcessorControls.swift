/// Secondary processor-based VM-execution controls (VMCS field 0x401E).
///
/// Used only when the primary control "activate secondary controls" (bit 31)
/// is 1; IA32_VMX_PROCBASED_CTLS2 exists only when that control may be 1.
/// It has no default1 bits.
///
/// Intel SDM Vol. 3C, "Processor-Based VM-Execution Controls" (25.6.2 in rev. 84),
/// table "Definitions of Secondary Processor-Based VM-Execution Controls".
public struct SecondaryProcessorControls: VMXControls {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static var controlSet: VMXControlSet { .secondaryProcessorBased }

    /// Bit 0: accesses to the APIC-access page are treated specially.
    public static let virtualizeAPICAccesses = Self(rawValue: 1 << 0)
    /// Bit 1: enable EPT.
    public static let enableEPT = Self(rawValue: 1 << 1)
    /// Bit 2: LGDT, LIDT, LLDT, LTR, SGDT, SIDT, SLDT and STR cause VM exits.
    public static let descriptorTableExiting = Self(rawValue: 1 << 2)
    /// Bit 3: enable RDTSCP (else it causes #UD in the guest).
    public static let enableRDTSCP = Self(rawValue: 1 << 3)
    /// Bit 4: virtualize x2APIC mode.
    public static let virtualizeX2APICMode = Self(rawValue: 1 << 4)
    /// Bit 5: enable VPID.
    public static let enableVPID = Self(rawValue: 1 << 5)
    /// Bit 6: WBINVD and WBNOINVD cause VM exits.
    public static let wbinvdExiting = Self(rawValue: 1 << 6)
    /// Bit 7: unrestricted guest (real mode and unpaged protected mode under EPT).
    public static let unrestrictedGuest = Self(rawValue: 1 << 7)
    /// Bit 8: APIC-register virtualization.
    public static let apicRegisterVirtualization = Self(rawValue: 1 << 8)
    /// Bit 9: virtual-interrupt delivery.
    public static let virtualInterruptDelivery = Self(rawValue: 1 << 9)
    /// Bit 10: PAUSE-loop exiting.
    public static let pauseLoopExiting = Self(rawValue: 1 << 10)
    /// Bit 11: RDRAND causes a VM exit.
    public static let rdrandExiting = Self(rawValue: 1 << 11)
    /// Bit 12: enable INVPCID (else it causes #UD in the guest).
    public static let enableINVPCID = Self(rawValue: 1 << 12)
    /// Bit 13: enable VM functions (VMFUNC).
    public static let enableVMFunctions = Self(rawValue: 1 << 13)
    /// Bit 14: VMCS shadowing.
    public static let vmcsShadowing = Self(rawValue: 1 << 14)
    /// Bit 15: ENCLS exiting.
    public static let enableENCLSExiting = Self(rawValue: 1 << 15)
    /// Bit 16: RDSEED causes a VM exit.
    public static let rdseedExiting = Self(rawValue: 1 << 16)
    /// Bit 17: enable page-modification logging.
    public static let enablePML = Self(rawValue: 1 << 17)
    /// Bit 18: EPT violations may cause virtualization exceptions (#VE).
    public static let eptViolationVE = Self(rawValue: 1 << 18)
    /// Bit 19: conceal VMX from Intel Processor Trace.
    public static let concealVMXFromPT = Self(rawValue: 1 << 19)
    /// Bit 20: enable XSAVES/XRSTORS (else they cause #UD in the guest).
    public static let enableXSAVES = Self(rawValue: 1 << 20)
    /// Bit 22: mode-based execute control for EPT.
    public static let modeBasedExecuteControlForEPT = Self(rawValue: 1 << 22)
    /// Bit 23: sub-page write permissions for EPT.
    public static let subPageWritePermissionsForEPT = Self(rawValue: 1 << 23)
    /// Bit 24: Intel PT uses guest-physical addresses.
    public static let ptUsesGuestPhysicalAddresses = Self(rawValue: 1 << 24)
    /// Bit 25: use TSC scaling.
    public static let useTSCScaling = Self(rawValue: 1 << 25)
    /// Bit 26: enable user wait and pause (TPAUSE, UMONITOR, UMWAIT).
    public static let enableUserWaitAndPause = Self(rawValue: 1 << 26)
    /// Bit 27: enable PCONFIG.
    public static let enablePCONFIG = Self(rawValue: 1 << 27)
    /// Bit 28: ENCLV exiting.
    public static let enableENCLVExiting = Self(rawValue: 1 << 28)
    /// Bit 30: VMM bus-lock detection.
    public static let vmmBusLockDetection = Self(rawValue: 1 << 30)
    /// Bit 31: instruction timeout.
    public static let instructionTimeout = Self(rawValue: 1 << 31)

    /// The SDM's names of the controls above, by bit.
    static let names: InlineArray<30, (UInt32, StaticString)> = [
        (0, "virtualize APIC accesses"),
        (1, "enable EPT"),
        (2, "descriptor-table exiting"),
        (3, "enable RDTSCP"),
        (4, "virtualize x2APIC mode"),
        (5, "enable VPID"),
        (6, "WBINVD exiting"),
        (7, "unrestricted guest"),
        (8, "APIC-register virtualization"),
        (9, "virtual-interrupt delivery"),
        (10, "PAUSE-loop exiting"),
        (11, "RDRAND exiting"),
        (12, "enable INVPCID"),
        (13, "enable VM functions"),
        (14, "VMCS shadowing"),
        (15, "enable ENCLS exiting"),
        (16, "RDSEED exiting"),
        (17, "enable PML"),
        (18, "EPT-violation #VE"),
        (19, "conceal VMX from PT"),
        (20, "enable XSAVES/XRSTORS"),
        (22, "mode-based execute control for EPT"),
        (23, "sub-page write permissions for EPT"),
        (24, "Intel PT uses guest physical addresses"),
        (25, "use TSC scaling"),
        (26, "enable user wait and pause"),
        (27, "enable PCONFIG"),
        (28, "enable ENCLV exiting"),
        (30, "VMM bus-lock detection"),
        (31, "instruction timeout"),
    ]

    static func name(ofBit bit: Int) -> StaticString? { lookUpName(UInt32(bit), in: names.span) }
}
