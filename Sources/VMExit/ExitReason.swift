/// A basic exit reason: bits 15:0 of the exit-reason field.
///
/// Open: a number no static member names is still a value (and
/// `name` says "unknown"), so a newer CPU's exit is reported, not trapped.
///
/// Intel SDM Vol. 3D, "VMX Basic Exit Reasons" (Appendix C, Table C-1 in rev. 84)
public struct ExitReason: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let exceptionOrNMI = Self(rawValue: 0)
    public static let externalInterrupt = Self(rawValue: 1)
    public static let tripleFault = Self(rawValue: 2)
    public static let initSignal = Self(rawValue: 3)
    public static let sipi = Self(rawValue: 4)
    public static let ioSMI = Self(rawValue: 5)
    public static let otherSMI = Self(rawValue: 6)
    public static let interruptWindow = Self(rawValue: 7)
    public static let nmiWindow = Self(rawValue: 8)
    public static let taskSwitch = Self(rawValue: 9)
    public static let cpuid = Self(rawValue: 10)
    public static let getsec = Self(rawValue: 11)
    public static let hlt = Self(rawValue: 12)
    public static let invd = Self(rawValue: 13)
    public static let invlpg = Self(rawValue: 14)
    public static let rdpmc = Self(rawValue: 15)
    public static let rdtsc = Self(rawValue: 16)
    public static let rsm = Self(rawValue: 17)
    public static let vmcall = Self(rawValue: 18)
    public static let vmclear = Self(rawValue: 19)
    public static let vmlaunch = Self(rawValue: 20)
    public static let vmptrld = Self(rawValue: 21)
    public static let vmptrst = Self(rawValue: 22)
    public static let vmread = Self(rawValue: 23)
    public static let vmresume = Self(rawValue: 24)
    public static let vmwrite = Self(rawValue: 25)
    public static let vmxoff = Self(rawValue: 26)
    public static let vmxon = Self(rawValue: 27)
    public static let controlRegisterAccess = Self(rawValue: 28)
    public static let movDR = Self(rawValue: 29)
    public static let ioInstruction = Self(rawValue: 30)
    public static let rdmsr = Self(rawValue: 31)
    public static let wrmsr = Self(rawValue: 32)
    public static let entryFailureGuestState = Self(rawValue: 33)
    public static let entryFailureMSRLoading = Self(rawValue: 34)
    // 35: not used.
    public static let mwait = Self(rawValue: 36)
    public static let monitorTrapFlag = Self(rawValue: 37)
    // 38: not used.
    public static let monitor = Self(rawValue: 39)
    public static let pause = Self(rawValue: 40)
    public static let entryFailureMachineCheck = Self(rawValue: 41)
    // 42: not used.
    public static let tprBelowThreshold = Self(rawValue: 43)
    public static let apicAccess = Self(rawValue: 44)
    public static let virtualizedEOI = Self(rawValue: 45)
    public static let gdtrOrIDTRAccess = Self(rawValue: 46)
    public static let ldtrOrTRAccess = Self(rawValue: 47)
    public static let eptViolation = Self(rawValue: 48)
    public static let eptMisconfiguration = Self(rawValue: 49)
    public static let invept = Self(rawValue: 50)
    public static let rdtscp = Self(rawValue: 51)
    public static let preemptionTimerExpired = Self(rawValue: 52)
    public static let invvpid = Self(rawValue: 53)
    public static let wbinvd = Self(rawValue: 54)
    public static let xsetbv = Self(rawValue: 55)
    public static let apicWrite = Self(rawValue: 56)
    public static let rdrand = Self(rawValue: 57)
    public static let invpcid = Self(rawValue: 58)
    public static let vmfunc = Self(rawValue: 59)
    public static let encls = Self(rawValue: 60)
    public static let rdseed = Self(rawValue: 61)
    public static let pageModificationLogFull = Self(rawValue: 62)
    public static let xsaves = Self(rawValue: 63)
    public static let xrstors = Self(rawValue: 64)
    public static let pconfig = Self(rawValue: 65)
    public static let sppEvent = Self(rawValue: 66)
    public static let umwait = Self(rawValue: 67)
    public static let tpause = Self(rawValue: 68)
    public static let loadiwkey = Self(rawValue: 69)
    public static let enclv = Self(rawValue: 70)
    // 71: not used.
    public static let enqcmdPASIDTranslationFailure = Self(rawValue: 72)
    public static let enqcmdsPASIDTranslationFailure = Self(rawValue: 73)
    public static let busLock = Self(rawValue: 74)
    public static let instructionTimeout = Self(rawValue: 75)
    public static let seamcall = Self(rawValue: 76)
    public static let tdcall = Self(rawValue: 77)
    public static let rdmsrlist = Self(rawValue: 78)
    public static let wrmsrlist = Self(rawValue: 79)
    public static let urdmsr = Self(rawValue: 80)
    public static let uwrmsr = Self(rawValue: 81)
    // 82, 83: not used.
    public static let rdmsrImmediate = Self(rawValue: 84)
    public static let wrmsrnsImmediate = Self(rawValue: 85)

    /// Not an SDM reason: pxHV counts here the AMD-V exits VT-x has no
    /// counterpart for (PUSHF, POPF, STGI, CLGI, ...; see
    /// `SVMExitCode.countingReason`). 127 is the last counter
    /// `ExitStatistics` tracks, far above the SDM's numbers.
    public static let svmWithoutVMXCounterpart = Self(rawValue: 127)

    /// The reason's name in the SDM's table; "unknown" for numbers the table
    /// does not define.
    public var name: StaticString {
        switch rawValue {
        case 0: "Exception or non-maskable interrupt (NMI)"
        case 1: "External interrupt"
        case 2: "Triple fault"
        case 3: "INIT signal"
        case 4: "Start-up IPI (SIPI)"
        case 5: "I/O system-management interrupt (SMI)"
        case 6: "Other SMI"
        case 7: "Interrupt window"
        case 8: "NMI window"
        case 9: "Task switch"
        case 10: "CPUID"
        case 11: "GETSEC"
        case 12: "HLT"
        case 13: "INVD"
        case 14: "INVLPG"
        case 15: "RDPMC"
        case 16: "RDTSC"
        case 17: "RSM"
        case 18: "VMCALL"
        case 19: "VMCLEAR"
        case 20: "VMLAUNCH"
        case 21: "VMPTRLD"
        case 22: "VMPTRST"
        case 23: "VMREAD"
        case 24: "VMRESUME"
        case 25: "VMWRITE"
        case 26: "VMXOFF"
        case 27: "VMXON"
        case 28: "Control-register accesses"
        case 29: "MOV DR"
        case 30: "I/O instruction"
        case 31: "RDMSR"
        case 32: "WRMSR"
        case 33: "VM-entry failure due to invalid guest state"
        case 34: "VM-entry failure due to MSR loading"
        case 36: "MWAIT"
        case 37: "Monitor trap flag"
        case 39: "MONITOR"
        case 40: "PAUSE"
        case 41: "VM-entry failure due to machine-check event"
        case 43: "TPR below threshold"
        case 44: "APIC access"
        case 45: "Virtualized EOI"
        case 46: "Access to GDTR or IDTR"
        case 47: "Access to LDTR or TR"
        case 48: "EPT violation"
        case 49: "EPT misconfiguration"
        case 50: "INVEPT"
        case 51: "RDTSCP"
        case 52: "VMX-preemption timer expired"
        case 53: "INVVPID"
        case 54: "WBINVD or WBNOINVD"
        case 55: "XSETBV"
        case 56: "APIC write"
        case 57: "RDRAND"
        case 58: "INVPCID"
        case 59: "VMFUNC"
        case 60: "ENCLS"
        case 61: "RDSEED"
        case 62: "Page-modification log full"
        case 63: "XSAVES"
        case 64: "XRSTORS"
        case 65: "PCONFIG"
        case 66: "SPP-related event"
        case 67: "UMWAIT"
        case 68: "TPAUSE"
        case 69: "LOADIWKEY"
        case 70: "ENCLV"
        case 72: "ENQCMD PASID translation failure"
        case 73: "ENQCMDS PASID translation failure"
        case 74: "Bus lock"
        case 75: "Instruction timeout"
        case 76: "SEAMCALL"
        case 77: "TDCALL"
        case 78: "RDMSRLIST"
        case 79: "WRMSRLIST"
        case 80: "URDMSR"
        case 81: "UWRMSR"
        case 84: "RDMSR with immediate operand"
        case 85: "WRMSRNS with immediate operand"
        case 127: "AMD-V exit without a VT-x counterpart (pxHV)"
        default: "unknown"
        }
    }

    /// The basic reasons that only occur with bit 31 (VM-entry failure) set.
    public var isEntryFailureReason: Bool {
        self == .entryFailureGuestState || self == .entryFailureMSRLoading
            || self == .entryFailureMachineCheck
    }
}
