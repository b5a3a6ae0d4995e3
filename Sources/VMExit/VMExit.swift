import EPT
import Primitives
import VMXCore
/// VMExit module: what a VM exit was, decoded once, and counted.
///
/// - `RawExitReason` / `ExitReason`: the exit-reason field and every basic
///   exit reason with its SDM name.
/// - `ExitQualification.ControlRegisterAccess`, `.IOInstruction`: the
///   exit-qualification layouts as named bitfields; `GeneralPurposeRegister`.
/// - `VMExit`: the decoded event that policy handlers switch on.
/// - `ExitStatistics`: allocation-free per-reason counters and the summary
///   line.
/// - `GuestRegisters` (the stub's 128-byte save area), `ExitEvent` (the
///   vendor-neutral event, `ExitEvent.fromVMX`), `ExitAction`/`StopReason`.
/// - Policies, one per exit family (`CPUIDPolicy` over a `CPUIDCache`,
///   `MSRPolicy` + `fillMSRBitmap`, `IOPolicy` + `fillIOBitmaps`,
///   `ControlRegisterPolicy`, `XSETBVPolicy`, `NestedPageFaultPolicy`, the
///   `Hypercall` ABI) and `Dispatcher`, which counts and routes. Guest
///   memory, console and check sinks are protocols (`GuestMemory`,
///   `HypervisorConsole`, `CheckRecorder`, `GuestStateSource`).
///
/// - AMD-V: `SVMExitCode` (every #VMEXIT code, and the VMX reason it
///   counts as), `SVMIOInformation`, `SVMNestedPageFaultErrorCode`,
///   `SVMControlRegisterAccess`, `SVMExit` (decoded from raw VMCB values)
///   and `ExitEvent.fromSVM`; `SVMNextRIP` for CPUs without NRIPS.
///
/// Section numbers follow the Intel SDM rev. 84; exit reasons 78-85 come
/// from later revisions. Exit information is read through
/// `ExitInformationSource`, which the hypervisor implements over its VMCS
/// accessor.

/// One VM exit, decoded: the reason and the fields that reason defines.
///
/// Decoding reads the exit reason, then only the fields its case needs.
/// A failed VM entry (exit-reason bit 31) is `.entryFailure` whatever its
/// basic reason; the basic reason never selects a handler on its own.
public enum VMExit: Hashable, Sendable {
    case cpuid
    case hlt
    case invd
    /// WBINVD or WBNOINVD (reason 54).
    case wbinvd
    case vmcall
    case rdmsr
    case wrmsr
    case xsetbv
    case tripleFault
    /// Reason 0: the VM-exit interruption information (0x4404) and, when
    /// its bit 11 says one was pushed, the error code (0x4406).
    case exceptionOrNMI(ExitInterruptionInformation, errorCode: UInt32?)
    case controlRegisterAccess(ExitQualification.ControlRegisterAccess)
    case io(ExitQualification.IOInstruction)
    /// The raw qualification is decoded by EPT (violation layout). The
    /// guest-linear address is read only when qualification bit 7 says it is
    /// valid; guest RIP is read for the report.
    case eptViolation(guestPhysicalAddress: UInt64, qualification: UInt64,
                      guestLinearAddress: UInt64?, guestRIP: UInt64)
    case eptMisconfiguration(guestPhysicalAddress: UInt64)
    /// A VMX instruction (VMCLEAR ... VMXON, INVEPT, INVVPID, VMFUNC) or
    /// GETSEC: these exit unconditionally in VMX non-root operation, at any
    /// CPL. Nothing else is read.
    case vmxInstruction(ExitReason)
    /// The "NMI-window exiting" control was 1 and virtual-NMI blocking ended.
    case nmiWindow
    /// The VMX-preemption timer counted down to 0.
    case preemptionTimerExpired
    /// An INIT signal arrived (in VMX non-root operation INIT is blocked
    /// only in the wait-for-SIPI activity state).
    case initSignal
    /// A start-up IPI arrived while the guest was in the wait-for-SIPI
    /// activity state (reason 4); the qualification holds its vector.
    case startupIPI(StartupIPI)
    /// VM entry failed: bit 31 of the exit reason; the qualification holds
    /// the failing MSR-load entry (reason 34) or is 0.
    case entryFailure(RawExitReason, qualification: UInt64)
    /// Any other reason, with its qualification for the report.
    case unhandled(ExitReason, qualification: UInt64)

    /// Reads and decodes the current exit. Allocation-free. Inlined into
    /// the exit loop, where the switch on the result folds into this one.
    @inline(__always)
    public static func decode<Source: ExitInformationSource>(_ source: Source) -> VMExit {
        decode(raw: RawExitReason(rawValue: source.exitReason()), source)
    }

    /// `decode` for an exit whose reason field has been read already.
    @inline(__always)
    public static func decode<Source: ExitInformationSource>(raw: RawExitReason, _ source: Source) -> VMExit {
        if raw.isVMEntryFailure {
            return .entryFailure(raw, qualification: source.exitQualification())
        }
        switch raw.basicReason {
        case .cpuid: return .cpuid
        case .hlt: return .hlt
        case .invd: return .invd
        case .wbinvd: return .wbinvd
        case .vmcall: return .vmcall
        case .rdmsr: return .rdmsr
        case .wrmsr: return .wrmsr
        case .xsetbv: return .xsetbv
        case .tripleFault: return .tripleFault
        case .exceptionOrNMI:
            let information = ExitInterruptionInformation(rawValue: source.interruptionInformation())
            let errorCode = information.isErrorCodeValid ? source.interruptionErrorCode() : nil
            return .exceptionOrNMI(information, errorCode: errorCode)
        case .controlRegisterAccess:
            return .controlRegisterAccess(.init(rawValue: source.exitQualification()))
        case .ioInstruction:
            return .io(.init(rawValue: source.exitQualification()))
        case .eptViolation:
            let qualification = source.exitQualification()
            // Bit 7: guest-linear-address field valid (EPTViolation.Field).
            let linear: UInt64? = qualification[bit: 7] ? source.guestLinearAddress() : nil
            return .eptViolation(guestPhysicalAddress: source.guestPhysicalAddress(),
                                 qualification: qualification,
                                 guestLinearAddress: linear, guestRIP: source.guestRIP())
        case .eptMisconfiguration:
            return .eptMisconfiguration(guestPhysicalAddress: source.guestPhysicalAddress())
        case .getsec, .vmclear, .vmlaunch, .vmptrld, .vmptrst, .vmread, .vmresume, .vmwrite, .vmxoff, .vmxon,
            .invept, .invvpid, .vmfunc:
            return .vmxInstruction(raw.basicReason)
        case .nmiWindow: return .nmiWindow
        case .preemptionTimerExpired: return .preemptionTimerExpired
        case .initSignal: return .initSignal
        case .sipi: return .startupIPI(StartupIPI(exitQualification: source.exitQualification()))
        case let other:
            return .unhandled(other, qualification: source.exitQualification())
        }
    }

    /// The basic exit reason this event came from.
    public var reason: ExitReason {
        switch self {
        case .cpuid: .cpuid
        case .hlt: .hlt
        case .invd: .invd
        case .wbinvd: .wbinvd
        case .vmcall: .vmcall
        case .rdmsr: .rdmsr
        case .wrmsr: .wrmsr
        case .xsetbv: .xsetbv
        case .tripleFault: .tripleFault
        case .exceptionOrNMI: .exceptionOrNMI
        case .controlRegisterAccess: .controlRegisterAccess
        case .io: .ioInstruction
        case .eptViolation: .eptViolation
        case .eptMisconfiguration: .eptMisconfiguration
        case .vmxInstruction(let reason): reason
        case .nmiWindow: .nmiWindow
        case .preemptionTimerExpired: .preemptionTimerExpired
        case .initSignal: .initSignal
        case .startupIPI: .sipi
        case .entryFailure(let raw, _): raw.basicReason
        case .unhandled(let reason, _): reason
        }
    }
}
