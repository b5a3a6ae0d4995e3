import Primitives
import VMXCore

extension ExitEvent {
    /// An IOIO exit's access, by the same rules as VMX's (`portIO(_:registers:)`):
    /// size 1, 2 or 4 (0 for an encoding the APM does not define); an OUT's
    /// value is the low `size` bytes of RAX; IN, INS and OUTS carry 0.
    @inline(__always)
    public static func svmPortIO(_ access: SVMIOInformation, registers: GuestRegisters) -> PortIO {
        let size = UInt8(truncatingIfNeeded: access.size ?? 0)
        var io = PortIO(port: access.port, size: size, isIn: access.isIn,
                        isString: access.isString, isREP: access.isREP)
        if access.isOut && !access.isString {
            io.value = UInt32(truncatingIfNeeded: registers.rax) & io.valueMask
        }
        return io
    }

    /// The vendor-neutral event for a decoded #VMEXIT. Pure: operands come
    /// from `registers` (RAX and RSP from their slots, which the SVM backend
    /// fills from the VMCB save area).
    ///
    /// CPUID: leaf EAX, subleaf ECX. RDMSR/WRMSR: ECX, value EDX:EAX.
    /// XSETBV: index ECX, value EDX:EAX. VMMCALL is the hypercall. A CR
    /// access whose GPR is unknown (no decode assists, not decoded from the
    /// instruction bytes either) is `.unhandled` as a control-register
    /// access: the policy cannot carry out an instruction it does not know.
    /// The SVM instructions are `.virtualizationInstruction` (the policy
    /// injects #UD). VMEXIT_INVALID is `.entryFailure` with reason
    /// 0xFFFFFFFF (-1) and EXITINFO1. Every other code is `.unhandled`,
    /// reason `SVMExitCode.countingReason`, qualification the SVM exit code
    /// itself (so the stop report can name it).
    @inline(__always)
    public static func fromSVM(_ exit: SVMExit, registers: GuestRegisters) -> ExitEvent {
        switch exit {
        case .cpuid:
            return .cpuid(leaf: UInt32(truncatingIfNeeded: registers.rax),
                          subleaf: UInt32(truncatingIfNeeded: registers.rcx))
        case .hlt: return .hlt
        case .invd: return .invd
        case .wbinvd: return .wbinvd
        case .vmmcall: return .hypercall
        case .rdmsr:
            return .msrRead(MSR(UInt32(truncatingIfNeeded: registers.rcx)))
        case .wrmsr:
            return .msrWrite(MSR(UInt32(truncatingIfNeeded: registers.rcx)), value: registers.edxEAX)
        case .xsetbv:
            return .xsetbv(index: UInt32(truncatingIfNeeded: registers.rcx), value: registers.edxEAX)
        case .io(let access, _):
            return .io(svmPortIO(access, registers: registers))
        case .controlRegisterAccess(let access):
            guard let register = access.generalPurposeRegister else {
                return .unhandled(reason: UInt32(ExitReason.controlRegisterAccess.rawValue), qualification: exit.code.rawValue)
            }
            return access.isWrite
                ? .crWrite(controlRegister: access.controlRegister, value: registers[register])
                : .crRead(controlRegister: access.controlRegister, destination: register)
        case .exception(let vector, let errorCode, _, _):
            return .exception(vector: vector, errorCode: errorCode)
        case .nestedPageFault(let gpa, let errorCode, let rip, _):
            let kind: MemoryAccess = errorCode.isInstructionFetch ? .fetch : errorCode.isWrite ? .write : .read
            return .nestedPageFault(NestedPageFault(guestPhysicalAddress: gpa, access: kind, guestRIP: rip))
        case .shutdown: return .tripleFault
        case .nmi: return .nmi
        case .initSignal: return .initSignal
        case .svmInstruction(let code):
            return .virtualizationInstruction(reason: code.countingReason)
        case .invalid(let exitInfo1):
            return .entryFailure(reason: ExitEvent.svmInvalidReason, qualification: exitInfo1)
        case .unhandled(let code, _, _):
            return .unhandled(reason: UInt32(code.countingReason.rawValue), qualification: code.rawValue)
        }
    }

    /// `.entryFailure`'s reason for VMEXIT_INVALID: the exit code's low 32
    /// bits (-1). No VMX exit-reason field has this value (bits 30:16 are
    /// reserved, 0), so it stays distinguishable; it counts as reason 33.
    public static let svmInvalidReason: UInt32 = 0xFFFF_FFFF
}
