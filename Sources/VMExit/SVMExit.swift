import Primitives

/// One #VMEXIT, decoded: the exit code and the EXITINFO fields that code
/// defines. The AMD-V counterpart of `VMExit`.
///
/// Decoding takes the raw values the hypervisor read from the VMCB control
/// area (EXITCODE 70h, EXITINFO1 78h, EXITINFO2 80h, EXITINTINFO 88h) and
/// the guest's RIP from the save area; it depends on no VMCB type.
/// VMEXIT_INVALID is `.invalid` whatever else the VMCB says: no guest ran.
///
/// AMD APM Vol. 2, "#VMEXIT" (15.6 in rev. 3.42) and "SVM Intercept Exit
/// Codes" (Appendix C).
public enum SVMExit: Hashable, Sendable {
    case cpuid
    /// VMEXIT_HLT or VMEXIT_IDLE_HLT.
    case hlt
    case invd
    /// WBINVD or WBNOINVD.
    case wbinvd
    case vmmcall
    case xsetbv
    /// VMEXIT_MSR with EXITINFO1 = 0.
    case rdmsr
    /// VMEXIT_MSR with EXITINFO1 = 1.
    case wrmsr
    /// VMEXIT_IOIO: EXITINFO1, and EXITINFO2 (the next instruction's RIP).
    case io(SVMIOInformation, nextRIP: UInt64)
    /// A CR read or write intercept (0x00-0x1F), or CR0_SEL_WRITE (a CR0 write).
    case controlRegisterAccess(SVMControlRegisterAccess)
    /// VMEXIT_EXCPn: the vector, EXITINFO1 as the error code for the
    /// vectors that push one (8, 10-14, 17, 21, 29, 30), EXITINFO2 (for
    /// #PF: the faulting address), and EXITINTINFO when valid (bit 31: an
    /// event was being delivered and must be re-injected).
    case exception(vector: UInt8, errorCode: UInt32?, exitInfo2: UInt64, interruptedEvent: UInt64?)
    /// VMEXIT_NPF: the guest-physical address (EXITINFO2), the error code
    /// (EXITINFO1), the guest RIP and EXITINTINFO when valid.
    case nestedPageFault(guestPhysicalAddress: UInt64, SVMNestedPageFaultErrorCode, guestRIP: UInt64,
                         interruptedEvent: UInt64?)
    /// VMEXIT_SHUTDOWN: the guest hit a triple fault (or another shutdown
    /// condition).
    case shutdown
    /// VMEXIT_NMI: a physical NMI arrived while the guest ran.
    case nmi
    /// VMEXIT_INIT: a physical INIT arrived.
    case initSignal
    /// VMRUN, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA: the guest's CPU
    /// has no SVM (CPUID says so), so each raises #UD.
    case svmInstruction(SVMExitCode)
    /// VMEXIT_INVALID: VMRUN refused the guest state; EXITINFO1 for the report.
    case invalid(exitInfo1: UInt64)
    /// Any other code, with both EXITINFO fields for the report.
    case unhandled(SVMExitCode, exitInfo1: UInt64, exitInfo2: UInt64)

    /// Decodes the raw #VMEXIT fields. Pure and allocation-free.
    @inline(__always)
    public static func decode(
        exitCode: UInt64, exitInfo1: UInt64, exitInfo2: UInt64, exitIntInfo: UInt64, guestRIP: UInt64 = 0
    ) -> SVMExit {
        // VMEXIT_INVALID is -1 in the 64-bit EXITCODE. QEMU 7.2's TCG stores
        // its exit codes as 32-bit values (`cpu_vmexit(..., uint32_t
        // exit_code, ...)`), so there it reads 0xFFFFFFFF: the same event,
        // no exit code has that low half otherwise.
        let code = UInt32(truncatingIfNeeded: exitCode) == UInt32.max ? SVMExitCode.invalid : SVMExitCode(rawValue: exitCode)
        // EXITINTINFO bit 31 (V): valid.
        let interrupted: UInt64? = exitIntInfo[bit: 31] ? exitIntInfo : nil
        if let cr = code.controlRegister {
            return .controlRegisterAccess(
                SVMControlRegisterAccess(controlRegister: cr, isWrite: code.isControlRegisterWrite, exitInfo1: exitInfo1))
        }
        if let vector = code.exceptionVector {
            let errorCode: UInt32? = pushesErrorCode(vector) ? UInt32(truncatingIfNeeded: exitInfo1) : nil
            return .exception(vector: vector, errorCode: errorCode, exitInfo2: exitInfo2, interruptedEvent: interrupted)
        }
        switch code {
        case .cpuid: return .cpuid
        case .hlt, .idleHLT: return .hlt
        case .invd: return .invd
        case .wbinvd: return .wbinvd
        case .vmmcall: return .vmmcall
        case .xsetbv: return .xsetbv
        case .msr:
            if exitInfo1 == 0 { return .rdmsr }
            if exitInfo1 == 1 { return .wrmsr }
            return .unhandled(code, exitInfo1: exitInfo1, exitInfo2: exitInfo2)
        case .ioio: return .io(SVMIOInformation(rawValue: exitInfo1), nextRIP: exitInfo2)
        case .cr0SelectiveWrite:
            return .controlRegisterAccess(SVMControlRegisterAccess(controlRegister: 0, isWrite: true, exitInfo1: exitInfo1))
        case .npf:
            return .nestedPageFault(guestPhysicalAddress: exitInfo2, SVMNestedPageFaultErrorCode(rawValue: exitInfo1),
                                    guestRIP: guestRIP, interruptedEvent: interrupted)
        case .shutdown: return .shutdown
        case .nmi: return .nmi
        case .initSignal: return .initSignal
        case .vmrun, .vmload, .vmsave, .stgi, .clgi, .skinit, .invlpga: return .svmInstruction(code)
        case .invalid: return .invalid(exitInfo1: exitInfo1)
        default: return .unhandled(code, exitInfo1: exitInfo1, exitInfo2: exitInfo2)
        }
    }

    /// The exceptions that push an error code: #DF, #TS, #NP, #SS, #GP,
    /// #PF, #AC, #CP, #VC, #SX.
    @inline(__always)
    static func pushesErrorCode(_ vector: UInt8) -> Bool {
        switch vector {
        case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30: true
        default: false
        }
    }

    /// The exit code this exit came from (VMEXIT_MSR for `.rdmsr`/`.wrmsr`;
    /// 0x65 is reported as VMEXIT_CR0_WRITE).
    public var code: SVMExitCode {
        switch self {
        case .cpuid: .cpuid
        case .hlt: .hlt
        case .invd: .invd
        case .wbinvd: .wbinvd
        case .vmmcall: .vmmcall
        case .xsetbv: .xsetbv
        case .rdmsr, .wrmsr: .msr
        case .io: .ioio
        case .controlRegisterAccess(let access):
            access.isWrite ? .writeCR(access.controlRegister) : .readCR(access.controlRegister)
        case .exception(let vector, _, _, _): .exception(vector)
        case .nestedPageFault: .npf
        case .shutdown: .shutdown
        case .nmi: .nmi
        case .initSignal: .initSignal
        case .svmInstruction(let code): code
        case .invalid: .invalid
        case .unhandled(let code, _, _): code
        }
    }

    /// The VMX basic exit reason this exit counts as (`SVMExitCode.countingReason`;
    /// a WRMSR counts as WRMSR).
    public var countingReason: ExitReason {
        if case .wrmsr = self { return .wrmsr }
        return code.countingReason
    }
}
