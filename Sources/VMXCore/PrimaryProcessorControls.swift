/// Primary processor-based VM-execution controls (VMCS field 0x4002).
///
/// Bits 1, 4-6, 8, 13-16 and 26 are default1.
///
/// Intel SDM Vol. 3C, "Processor-Based VM-Execution Controls" (25.6.2 in rev. 84),
/// table "Definitions of Primary Processor-Based VM-Execution Controls".
public struct PrimaryProcessorControls: VMXControls {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static var controlSet: VMXControlSet { .primaryProcessorBased }

    /// Bit 2: exit at the start of any instruction when RFLAGS.IF = 1 and nothing blocks interrupts.
    public static let interruptWindowExiting = Self(rawValue: 1 << 2)
    /// Bit 3: RDTSC/RDTSCP/IA32_TIME_STAMP_COUNTER reads add the TSC offset.
    public static let useTSCOffsetting = Self(rawValue: 1 << 3)
    /// Bit 7: HLT causes a VM exit.
    public static let hltExiting = Self(rawValue: 1 << 7)
    /// Bit 9: INVLPG causes a VM exit.
    public static let invlpgExiting = Self(rawValue: 1 << 9)
    /// Bit 10: MWAIT causes a VM exit.
    public static let mwaitExiting = Self(rawValue: 1 << 10)
    /// Bit 11: RDPMC causes a VM exit.
    public static let rdpmcExiting = Self(rawValue: 1 << 11)
    /// Bit 12: RDTSC and RDTSCP cause VM exits.
    public static let rdtscExiting = Self(rawValue: 1 << 12)
    /// Bit 15: MOV to CR3 causes a VM exit unless the value is a CR3-target value.
    public static let cr3LoadExiting = Self(rawValue: 1 << 15)
    /// Bit 16: MOV from CR3 causes a VM exit.
    public static let cr3StoreExiting = Self(rawValue: 1 << 16)
    /// Bit 17: activate the tertiary processor-based controls.
    public static let activateTertiaryControls = Self(rawValue: 1 << 17)
    /// Bit 19: MOV to CR8 causes a VM exit.
    public static let cr8LoadExiting = Self(rawValue: 1 << 19)
    /// Bit 20: MOV from CR8 causes a VM exit.
    public static let cr8StoreExiting = Self(rawValue: 1 << 20)
    /// Bit 21: use the TPR shadow (virtual-APIC page).
    public static let useTPRShadow = Self(rawValue: 1 << 21)
    /// Bit 22: exit at the start of any instruction when there is no virtual-NMI blocking.
    public static let nmiWindowExiting = Self(rawValue: 1 << 22)
    /// Bit 23: MOV DR causes a VM exit.
    public static let movDRExiting = Self(rawValue: 1 << 23)
    /// Bit 24: every I/O instruction causes a VM exit (ignored with I/O bitmaps).
    public static let unconditionalIOExiting = Self(rawValue: 1 << 24)
    /// Bit 25: the I/O bitmaps decide which I/O instructions exit.
    public static let useIOBitmaps = Self(rawValue: 1 << 25)
    /// Bit 27: monitor trap flag.
    public static let monitorTrapFlag = Self(rawValue: 1 << 27)
    /// Bit 28: the MSR bitmaps decide which RDMSR/WRMSR exit.
    public static let useMSRBitmaps = Self(rawValue: 1 << 28)
    /// Bit 29: MONITOR causes a VM exit.
    public static let monitorExiting = Self(rawValue: 1 << 29)
    /// Bit 30: PAUSE causes a VM exit.
    public static let pauseExiting = Self(rawValue: 1 << 30)
    /// Bit 31: activate the secondary processor-based controls.
    public static let activateSecondaryControls = Self(rawValue: 1 << 31)

    /// The SDM's names of the controls above, by bit.
    static let names: InlineArray<22, (UInt32, StaticString)> = [
        (2, "interrupt-window exiting"),
        (3, "use TSC offsetting"),
        (7, "HLT exiting"),
        (9, "INVLPG exiting"),
        (10, "MWAIT exiting"),
        (11, "RDPMC exiting"),
        (12, "RDTSC exiting"),
        (15, "CR3-load exiting"),
        (16, "CR3-store exiting"),
        (17, "activate tertiary controls"),
        (19, "CR8-load exiting"),
        (20, "CR8-store exiting"),
        (21, "use TPR shadow"),
        (22, "NMI-window exiting"),
        (23, "MOV-DR exiting"),
        (24, "unconditional I/O exiting"),
        (25, "use I/O bitmaps"),
        (27, "monitor trap flag"),
        (28, "use MSR bitmaps"),
        (29, "MONITOR exiting"),
        (30, "PAUSE exiting"),
        (31, "activate secondary controls"),
    ]

    static func name(ofBit bit: Int) -> StaticString? { lookUpName(UInt32(bit), in: names.span) }
}
