import EPT
import VMXCore

/// One VM exit as the policy handlers see it, free of VT-x (and AMD-V)
/// encodings: a decoder (`ExitEvent.fromVMX`, later an SVM one) builds it
/// from the exit information and the saved registers, and `Dispatcher`
/// switches on it.
///
/// Operands come already fetched: the CPUID leaf, the MSR number, the value
/// a WRMSR or MOV to CR writes, the byte an OUT sends.
public enum ExitEvent: Equatable, Sendable {
    /// CPUID with EAX = `leaf`, ECX = `subleaf`.
    case cpuid(leaf: UInt32, subleaf: UInt32)
    /// RDMSR of ECX.
    case msrRead(MSR)
    /// WRMSR of EDX:EAX to ECX.
    case msrWrite(MSR, value: UInt64)
    /// IN, OUT, INS, OUTS.
    case io(PortIO)
    /// MOV to CR`controlRegister` of `value` (the source register's contents).
    case crWrite(controlRegister: UInt8, value: UInt64)
    /// MOV from CR`controlRegister` into `destination`.
    case crRead(controlRegister: UInt8, destination: GeneralPurposeRegister)
    /// CLTS (clears CR0.TS).
    case clts
    /// LMSW with the 16-bit source operand.
    case lmsw(sourceData: UInt16)
    /// XSETBV of EDX:EAX to XCR[ECX].
    case xsetbv(index: UInt32, value: UInt64)
    case hlt
    case invd
    /// WBINVD or WBNOINVD.
    case wbinvd
    /// VMCALL (VMMCALL on AMD): the function and arguments are in the registers.
    case hypercall
    /// A guest-physical access the nested page tables (EPT, NPT) did not allow.
    case nestedPageFault(NestedPageFault)
    case tripleFault
    /// An exception the guest raised (the exception bitmap is 0, so none is
    /// expected).
    case exception(vector: UInt8, errorCode: UInt32?)
    /// A physical NMI arrived while the guest ran; it is the guest's to
    /// handle (the hypervisor takes none for itself).
    case nmi
    /// The guest can take an NMI again (VMX: NMI-window exit).
    case nmiWindow
    /// The hypervisor's periodic timer (VMX: preemption timer) expired.
    case timer
    /// An INIT signal arrived for this CPU.
    case initSignal
    /// A start-up IPI arrived for this CPU while it waited for one (VMX:
    /// activity state wait-for-SIPI).
    case startupIPI(StartupIPI)
    /// A virtualization instruction the guest may not use (VMX: VMXON,
    /// VMREAD, ..., INVEPT, INVVPID, VMFUNC, and GETSEC). `reason` is the
    /// counting reason.
    case virtualizationInstruction(reason: ExitReason)
    /// The guest did not start: VM entry failed. `reason` is the vendor's
    /// raw code (VMX: the whole exit-reason field, bit 31 set; SVM:
    /// `svmInvalidReason`, VMEXIT_INVALID).
    case entryFailure(reason: UInt32, qualification: UInt64)
    /// An exit no policy owns. `reason` is the VMX basic exit reason (the
    /// numbering the hypercall ABI and `ExitStatistics` count by; SVM exits
    /// map onto it by `SVMExitCode.countingReason`); `qualification` is the
    /// exit qualification (for an EPT misconfiguration: the guest-physical
    /// address; for an SVM exit: the SVM exit code).
    case unhandled(reason: UInt32, qualification: UInt64)
}

/// The kind of memory access.
public enum MemoryAccess: UInt8, Hashable, Sendable {
    case read
    case write
    /// Instruction fetch.
    case fetch

    public var name: StaticString {
        switch self {
        case .read: "read"
        case .write: "write"
        case .fetch: "fetch"
        }
    }
}

/// A guest access the nested page tables refused.
public struct NestedPageFault: Equatable, Sendable {
    public var guestPhysicalAddress: UInt64
    public var access: MemoryAccess
    /// The guest-linear address, when the hardware reported one.
    public var guestLinearAddress: UInt64?
    /// Guest RIP of the faulting instruction (for the report).
    public var guestRIP: UInt64

    public init(guestPhysicalAddress: UInt64, access: MemoryAccess,
                guestLinearAddress: UInt64? = nil, guestRIP: UInt64 = 0) {
        self.guestPhysicalAddress = guestPhysicalAddress
        self.access = access
        self.guestLinearAddress = guestLinearAddress
        self.guestRIP = guestRIP
    }
}

/// One port I/O instruction.
public struct PortIO: Equatable, Sendable {
    public var port: UInt16
    /// Access size in bytes: 1, 2 or 4 (0 when the hardware reported an
    /// encoding the SDM does not define).
    public var size: UInt8
    /// IN/INS (port to guest); else OUT/OUTS.
    public var isIn: Bool
    /// INS/OUTS.
    public var isString: Bool
    public var isREP: Bool
    /// For OUT (not OUTS): the low `size` bytes of RAX. 0 otherwise.
    public var value: UInt32

    public init(port: UInt16, size: UInt8, isIn: Bool, isString: Bool = false,
                isREP: Bool = false, value: UInt32 = 0) {
        self.port = port
        self.size = size
        self.isIn = isIn
        self.isString = isString
        self.isREP = isREP
        self.value = value
    }

    /// Mask of the low `size` bytes.
    public var valueMask: UInt32 {
        switch size {
        case 1: 0xFF
        case 2: 0xFFFF
        case 4: 0xFFFF_FFFF
        default: 0
        }
    }
}

extension ExitEvent {
    /// The exit reason this event counts as in `ExitStatistics` and in
    /// hypercall 3: the VMX basic exit reason numbering (Intel SDM Vol. 3D,
    /// Appendix C), which the hypercall ABI made the neutral numbering.
    public var countingReason: ExitReason {
        switch self {
        case .cpuid: .cpuid
        case .msrRead: .rdmsr
        case .msrWrite: .wrmsr
        case .io: .ioInstruction
        case .crWrite, .crRead, .clts, .lmsw: .controlRegisterAccess
        case .xsetbv: .xsetbv
        case .hlt: .hlt
        case .invd: .invd
        case .wbinvd: .wbinvd
        case .hypercall: .vmcall
        case .nestedPageFault: .eptViolation
        case .tripleFault: .tripleFault
        case .exception, .nmi: .exceptionOrNMI
        case .nmiWindow: .nmiWindow
        case .timer: .preemptionTimerExpired
        case .initSignal: .initSignal
        case .startupIPI: .sipi
        case .virtualizationInstruction(let reason): reason
        case .entryFailure(let reason, _):
            // VMX: bits 15:0 are the basic reason (33, 34, 41). SVM's
            // VMEXIT_INVALID (-1) counts as invalid guest state (33).
            reason == ExitEvent.svmInvalidReason
                ? .entryFailureGuestState : ExitReason(rawValue: UInt16(truncatingIfNeeded: reason))
        case .unhandled(let reason, _):
            ExitReason(rawValue: reason > 0xFFFF ? 0xFFFF : UInt16(reason))
        }
    }
}
