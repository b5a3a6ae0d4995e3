/// The EXITCODE field of the VMCB control area (offset 70h): why #VMEXIT
/// happened.
///
/// Open: a code no static member names is still a value (`name` says
/// "unknown"), so a newer CPU's exit is reported, not trapped. Ranges
/// (CR, DR, exceptions, CR write traps) have constructors and accessors
/// instead of 16 or 32 members each.
///
/// AMD APM Vol. 2, "SVM Intercept Exit Codes" (Appendix C, Table C-1 in
/// rev. 3.42); Linux `arch/x86/include/uapi/asm/svm.h` lists the same codes.
public struct SVMExitCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    // MARK: Ranges

    /// VMEXIT_CR0_READ (0x00) ... VMEXIT_CR15_READ (0x0F).
    public static func readCR(_ n: UInt8) -> Self { Self(rawValue: 0x00 + UInt64(n & 0xF)) }
    /// VMEXIT_CR0_WRITE (0x10) ... VMEXIT_CR15_WRITE (0x1F).
    public static func writeCR(_ n: UInt8) -> Self { Self(rawValue: 0x10 + UInt64(n & 0xF)) }
    /// VMEXIT_DR0_READ (0x20) ... VMEXIT_DR15_READ (0x2F).
    public static func readDR(_ n: UInt8) -> Self { Self(rawValue: 0x20 + UInt64(n & 0xF)) }
    /// VMEXIT_DR0_WRITE (0x30) ... VMEXIT_DR15_WRITE (0x3F).
    public static func writeDR(_ n: UInt8) -> Self { Self(rawValue: 0x30 + UInt64(n & 0xF)) }
    /// VMEXIT_EXCP0 (0x40) ... VMEXIT_EXCP31 (0x5F): exception `vector` intercepted.
    public static func exception(_ vector: UInt8) -> Self { Self(rawValue: 0x40 + UInt64(vector & 0x1F)) }
    /// VMEXIT_CR0_WRITE_TRAP (0x90) ... VMEXIT_CR15_WRITE_TRAP (0x9F) (SEV-ES).
    public static func crWriteTrap(_ n: UInt8) -> Self { Self(rawValue: 0x90 + UInt64(n & 0xF)) }

    /// The CR number of a CR read or write intercept (0x00-0x1F).
    public var controlRegister: UInt8? { rawValue < 0x20 ? UInt8(rawValue & 0xF) : nil }
    /// True for the CR write intercepts (0x10-0x1F).
    public var isControlRegisterWrite: Bool { (0x10..<0x20).contains(rawValue) }
    /// The DR number of a DR read or write intercept (0x20-0x3F).
    public var debugRegister: UInt8? { (0x20..<0x40).contains(rawValue) ? UInt8(rawValue & 0xF) : nil }
    /// The vector of an exception intercept (0x40-0x5F).
    public var exceptionVector: UInt8? { (0x40..<0x60).contains(rawValue) ? UInt8(rawValue - 0x40) : nil }
    /// The CR number of a CR write trap (0x90-0x9F).
    public var trappedControlRegister: UInt8? { (0x90..<0xA0).contains(rawValue) ? UInt8(rawValue & 0xF) : nil }

    // MARK: Single codes

    /// VMEXIT_INTR: physical INTR (maskable interrupt).
    public static let intr = Self(rawValue: 0x60)
    /// VMEXIT_NMI: physical NMI.
    public static let nmi = Self(rawValue: 0x61)
    /// VMEXIT_SMI: physical SMI.
    public static let smi = Self(rawValue: 0x62)
    /// VMEXIT_INIT: physical INIT.
    public static let initSignal = Self(rawValue: 0x63)
    /// VMEXIT_VINTR: virtual INTR.
    public static let vintr = Self(rawValue: 0x64)
    /// VMEXIT_CR0_SEL_WRITE: a write of CR0 that changed bits other than TS or MP.
    public static let cr0SelectiveWrite = Self(rawValue: 0x65)
    /// VMEXIT_IDTR_READ: SIDT.
    public static let idtrRead = Self(rawValue: 0x66)
    /// VMEXIT_GDTR_READ: SGDT.
    public static let gdtrRead = Self(rawValue: 0x67)
    /// VMEXIT_LDTR_READ: SLDT.
    public static let ldtrRead = Self(rawValue: 0x68)
    /// VMEXIT_TR_READ: STR.
    public static let trRead = Self(rawValue: 0x69)
    /// VMEXIT_IDTR_WRITE: LIDT.
    public static let idtrWrite = Self(rawValue: 0x6A)
    /// VMEXIT_GDTR_WRITE: LGDT.
    public static let gdtrWrite = Self(rawValue: 0x6B)
    /// VMEXIT_LDTR_WRITE: LLDT.
    public static let ldtrWrite = Self(rawValue: 0x6C)
    /// VMEXIT_TR_WRITE: LTR.
    public static let trWrite = Self(rawValue: 0x6D)
    /// VMEXIT_RDTSC.
    public static let rdtsc = Self(rawValue: 0x6E)
    /// VMEXIT_RDPMC.
    public static let rdpmc = Self(rawValue: 0x6F)
    /// VMEXIT_PUSHF.
    public static let pushf = Self(rawValue: 0x70)
    /// VMEXIT_POPF.
    public static let popf = Self(rawValue: 0x71)
    /// VMEXIT_CPUID.
    public static let cpuid = Self(rawValue: 0x72)
    /// VMEXIT_RSM.
    public static let rsm = Self(rawValue: 0x73)
    /// VMEXIT_IRET.
    public static let iret = Self(rawValue: 0x74)
    /// VMEXIT_SWINT: software interrupt (INTn).
    public static let swint = Self(rawValue: 0x75)
    /// VMEXIT_INVD.
    public static let invd = Self(rawValue: 0x76)
    /// VMEXIT_PAUSE.
    public static let pause = Self(rawValue: 0x77)
    /// VMEXIT_HLT.
    public static let hlt = Self(rawValue: 0x78)
    /// VMEXIT_INVLPG.
    public static let invlpg = Self(rawValue: 0x79)
    /// VMEXIT_INVLPGA.
    public static let invlpga = Self(rawValue: 0x7A)
    /// VMEXIT_IOIO: IN, OUT, INS, OUTS (EXITINFO1: `SVMIOInformation`).
    public static let ioio = Self(rawValue: 0x7B)
    /// VMEXIT_MSR: RDMSR or WRMSR (EXITINFO1: 0 read, 1 write).
    public static let msr = Self(rawValue: 0x7C)
    /// VMEXIT_TASK_SWITCH.
    public static let taskSwitch = Self(rawValue: 0x7D)
    /// VMEXIT_FERR_FREEZE: FERR while FERR_FREEZE intercepted.
    public static let ferrFreeze = Self(rawValue: 0x7E)
    /// VMEXIT_SHUTDOWN: the guest entered shutdown (e.g. triple fault).
    public static let shutdown = Self(rawValue: 0x7F)
    /// VMEXIT_VMRUN.
    public static let vmrun = Self(rawValue: 0x80)
    /// VMEXIT_VMMCALL.
    public static let vmmcall = Self(rawValue: 0x81)
    /// VMEXIT_VMLOAD.
    public static let vmload = Self(rawValue: 0x82)
    /// VMEXIT_VMSAVE.
    public static let vmsave = Self(rawValue: 0x83)
    /// VMEXIT_STGI.
    public static let stgi = Self(rawValue: 0x84)
    /// VMEXIT_CLGI.
    public static let clgi = Self(rawValue: 0x85)
    /// VMEXIT_SKINIT.
    public static let skinit = Self(rawValue: 0x86)
    /// VMEXIT_RDTSCP.
    public static let rdtscp = Self(rawValue: 0x87)
    /// VMEXIT_ICEBP: INT1 (opcode F1).
    public static let icebp = Self(rawValue: 0x88)
    /// VMEXIT_WBINVD (also WBNOINVD).
    public static let wbinvd = Self(rawValue: 0x89)
    /// VMEXIT_MONITOR (also MONITORX).
    public static let monitor = Self(rawValue: 0x8A)
    /// VMEXIT_MWAIT (also MWAITX), unconditional.
    public static let mwait = Self(rawValue: 0x8B)
    /// VMEXIT_MWAIT_CONDITIONAL: MWAIT with the monitor hardware armed.
    public static let mwaitConditional = Self(rawValue: 0x8C)
    /// VMEXIT_XSETBV.
    public static let xsetbv = Self(rawValue: 0x8D)
    /// VMEXIT_RDPRU.
    public static let rdpru = Self(rawValue: 0x8E)
    /// VMEXIT_EFER_WRITE_TRAP (SEV-ES): EXITINFO1 is the new EFER.
    public static let eferWriteTrap = Self(rawValue: 0x8F)
    /// VMEXIT_INVLPGB.
    public static let invlpgb = Self(rawValue: 0xA0)
    /// VMEXIT_INVLPGB_ILLEGAL.
    public static let invlpgbIllegal = Self(rawValue: 0xA1)
    /// VMEXIT_INVPCID.
    public static let invpcid = Self(rawValue: 0xA2)
    /// VMEXIT_MCOMMIT.
    public static let mcommit = Self(rawValue: 0xA3)
    /// VMEXIT_TLBSYNC.
    public static let tlbsync = Self(rawValue: 0xA4)
    /// VMEXIT_BUSLOCK: bus-lock threshold reached.
    public static let busLock = Self(rawValue: 0xA5)
    /// VMEXIT_IDLE_HLT: HLT with no virtual interrupt or NMI pending.
    public static let idleHLT = Self(rawValue: 0xA6)
    /// VMEXIT_NPF: nested page fault (EXITINFO1: `SVMNestedPageFaultErrorCode`,
    /// EXITINFO2: the guest-physical address).
    public static let npf = Self(rawValue: 0x400)
    /// VMEXIT_AVIC_INCOMPLETE_IPI.
    public static let avicIncompleteIPI = Self(rawValue: 0x401)
    /// VMEXIT_AVIC_NOACCEL: AVIC access the hardware could not accelerate.
    public static let avicNoAcceleration = Self(rawValue: 0x402)
    /// VMEXIT_VMGEXIT (SEV-ES guests).
    public static let vmgexit = Self(rawValue: 0x403)
    /// VMEXIT_INVALID (-1): VMRUN found invalid guest state; no guest ran.
    public static let invalid = Self(rawValue: ~0)

    /// The APM's name ("VMEXIT_CPUID"); for ranges the family
    /// ("VMEXIT_CRn_READ", "VMEXIT_EXCPn": `label` adds the number);
    /// "unknown" for codes the table does not define.
    public var name: StaticString {
        switch rawValue {
        case 0x00..<0x10: "VMEXIT_CRn_READ"
        case 0x10..<0x20: "VMEXIT_CRn_WRITE"
        case 0x20..<0x30: "VMEXIT_DRn_READ"
        case 0x30..<0x40: "VMEXIT_DRn_WRITE"
        case 0x40..<0x60: "VMEXIT_EXCPn"
        case 0x60: "VMEXIT_INTR"
        case 0x61: "VMEXIT_NMI"
        case 0x62: "VMEXIT_SMI"
        case 0x63: "VMEXIT_INIT"
        case 0x64: "VMEXIT_VINTR"
        case 0x65: "VMEXIT_CR0_SEL_WRITE"
        case 0x66: "VMEXIT_IDTR_READ"
        case 0x67: "VMEXIT_GDTR_READ"
        case 0x68: "VMEXIT_LDTR_READ"
        case 0x69: "VMEXIT_TR_READ"
        case 0x6A: "VMEXIT_IDTR_WRITE"
        case 0x6B: "VMEXIT_GDTR_WRITE"
        case 0x6C: "VMEXIT_LDTR_WRITE"
        case 0x6D: "VMEXIT_TR_WRITE"
        case 0x6E: "VMEXIT_RDTSC"
        case 0x6F: "VMEXIT_RDPMC"
        case 0x70: "VMEXIT_PUSHF"
        case 0x71: "VMEXIT_POPF"
        case 0x72: "VMEXIT_CPUID"
        case 0x73: "VMEXIT_RSM"
        case 0x74: "VMEXIT_IRET"
        case 0x75: "VMEXIT_SWINT"
        case 0x76: "VMEXIT_INVD"
        case 0x77: "VMEXIT_PAUSE"
        case 0x78: "VMEXIT_HLT"
        case 0x79: "VMEXIT_INVLPG"
        case 0x7A: "VMEXIT_INVLPGA"
        case 0x7B: "VMEXIT_IOIO"
        case 0x7C: "VMEXIT_MSR"
        case 0x7D: "VMEXIT_TASK_SWITCH"
        case 0x7E: "VMEXIT_FERR_FREEZE"
        case 0x7F: "VMEXIT_SHUTDOWN"
        case 0x80: "VMEXIT_VMRUN"
        case 0x81: "VMEXIT_VMMCALL"
        case 0x82: "VMEXIT_VMLOAD"
        case 0x83: "VMEXIT_VMSAVE"
        case 0x84: "VMEXIT_STGI"
        case 0x85: "VMEXIT_CLGI"
        case 0x86: "VMEXIT_SKINIT"
        case 0x87: "VMEXIT_RDTSCP"
        case 0x88: "VMEXIT_ICEBP"
        case 0x89: "VMEXIT_WBINVD"
        case 0x8A: "VMEXIT_MONITOR"
        case 0x8B: "VMEXIT_MWAIT"
        case 0x8C: "VMEXIT_MWAIT_CONDITIONAL"
        case 0x8D: "VMEXIT_XSETBV"
        case 0x8E: "VMEXIT_RDPRU"
        case 0x8F: "VMEXIT_EFER_WRITE_TRAP"
        case 0x90..<0xA0: "VMEXIT_CRn_WRITE_TRAP"
        case 0xA0: "VMEXIT_INVLPGB"
        case 0xA1: "VMEXIT_INVLPGB_ILLEGAL"
        case 0xA2: "VMEXIT_INVPCID"
        case 0xA3: "VMEXIT_MCOMMIT"
        case 0xA4: "VMEXIT_TLBSYNC"
        case 0xA5: "VMEXIT_BUSLOCK"
        case 0xA6: "VMEXIT_IDLE_HLT"
        case 0x400: "VMEXIT_NPF"
        case 0x401: "VMEXIT_AVIC_INCOMPLETE_IPI"
        case 0x402: "VMEXIT_AVIC_NOACCEL"
        case 0x403: "VMEXIT_VMGEXIT"
        case ~0: "VMEXIT_INVALID"
        default: "unknown"
        }
    }
}

extension SVMExitCode {
    /// The VMX basic exit reason an exit of this code counts as, so that
    /// `ExitStatistics` (and `pxhv: exits total=...`) read alike on both
    /// vendors. The rule, in one place:
    ///
    /// - The VMX reason of the same event where VT-x has one: CPUID 10,
    ///   HLT (and IDLE_HLT) 12, INVD 13, INVLPG 14, RDPMC 15, RDTSC 16,
    ///   RSM 17, VMMCALL and VMGEXIT 18 (VMCALL), CR accesses (reads,
    ///   writes, CR0_SEL_WRITE, CR write traps) 28, DR accesses 29, IOIO 30,
    ///   MSR 31 (a write counts as 32: `SVMExit.countingReason` reads
    ///   EXITINFO1), EFER_WRITE_TRAP 32, exceptions and NMI and ICEBP 0,
    ///   INTR 1, SHUTDOWN 2 (triple fault), INIT 3, SMI 6, VINTR 7
    ///   (interrupt window), IRET 8 (NMI window: SVM's way to see one),
    ///   TASK_SWITCH 9, MWAIT 36, MONITOR 39, PAUSE 40, AVIC_NOACCEL 44
    ///   (APIC access), IDTR/GDTR 46, LDTR/TR 47, NPF 48 (EPT violation),
    ///   RDTSCP 51, WBINVD 54, XSETBV 55, AVIC_INCOMPLETE_IPI 56 (APIC
    ///   write), INVPCID 58, BUSLOCK 74, INVALID 33 (entry failure: invalid
    ///   guest state).
    /// - The SVM instructions count as their VT-x counterparts: VMRUN as
    ///   VMLAUNCH 20, VMLOAD as VMPTRLD 21, VMSAVE as VMPTRST 22, SKINIT as
    ///   GETSEC 11 (SENTER's counterpart), INVLPGA as INVVPID 53 (both
    ///   invalidate one address-space tag's TLB entries).
    /// - Exits VT-x has no counterpart for (PUSHF, POPF, SWINT, FERR_FREEZE,
    ///   STGI, CLGI, RDPRU, INVLPGB, INVLPGB_ILLEGAL, MCOMMIT, TLBSYNC and
    ///   codes the table does not define) count as
    ///   `ExitReason.svmWithoutVMXCounterpart` (127, a number the SDM does
    ///   not use); the stop report names the SVM code itself.
    public var countingReason: ExitReason {
        if controlRegister != nil || trappedControlRegister != nil { return .controlRegisterAccess }
        if debugRegister != nil { return .movDR }
        if exceptionVector != nil { return .exceptionOrNMI }
        switch self {
        case .intr: return .externalInterrupt
        case .nmi, .icebp: return .exceptionOrNMI
        case .smi: return .otherSMI
        case .initSignal: return .initSignal
        case .vintr: return .interruptWindow
        case .cr0SelectiveWrite: return .controlRegisterAccess
        case .idtrRead, .gdtrRead, .idtrWrite, .gdtrWrite: return .gdtrOrIDTRAccess
        case .ldtrRead, .trRead, .ldtrWrite, .trWrite: return .ldtrOrTRAccess
        case .rdtsc: return .rdtsc
        case .rdpmc: return .rdpmc
        case .cpuid: return .cpuid
        case .rsm: return .rsm
        case .iret: return .nmiWindow
        case .invd: return .invd
        case .pause: return .pause
        case .hlt, .idleHLT: return .hlt
        case .invlpg: return .invlpg
        case .invlpga: return .invvpid
        case .ioio: return .ioInstruction
        case .msr: return .rdmsr
        case .taskSwitch: return .taskSwitch
        case .shutdown: return .tripleFault
        case .vmrun: return .vmlaunch
        case .vmmcall, .vmgexit: return .vmcall
        case .vmload: return .vmptrld
        case .vmsave: return .vmptrst
        case .skinit: return .getsec
        case .rdtscp: return .rdtscp
        case .wbinvd: return .wbinvd
        case .monitor: return .monitor
        case .mwait, .mwaitConditional: return .mwait
        case .xsetbv: return .xsetbv
        case .eferWriteTrap: return .wrmsr
        case .invpcid: return .invpcid
        case .busLock: return .busLock
        case .npf: return .eptViolation
        case .avicIncompleteIPI: return .apicWrite
        case .avicNoAcceleration: return .apicAccess
        case .invalid: return .entryFailureGuestState
        default: return .svmWithoutVMXCounterpart
        }
    }
}
