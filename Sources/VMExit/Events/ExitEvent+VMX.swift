import EPT
import VMXCore

extension ExitEvent {
    /// The vendor-neutral event for a decoded VMX exit. Pure: operands come
    /// from `registers` (RSP from its slot, which the backend fills from the
    /// VMCS: see `GuestRegisters`).
    ///
    /// CPUID: leaf EAX, subleaf ECX. RDMSR/WRMSR: ECX, value EDX:EAX.
    /// XSETBV: index ECX, value EDX:EAX. OUT: the low `size` bytes of RAX.
    /// MOV to CR: the source register named by the qualification.
    /// An I/O-instruction exit's access (an OUT's value from RAX).
    @inline(__always)
    public static func portIO(_ access: ExitQualification.IOInstruction, registers: GuestRegisters) -> PortIO {
        let size = UInt8(truncatingIfNeeded: access.size ?? 0)
        var io = PortIO(port: access.port, size: size, isIn: access.isIn,
                        isString: access.isString, isREP: access.isREP)
        if access.isOut && !access.isString {
            io.value = UInt32(truncatingIfNeeded: registers.rax) & io.valueMask
        }
        return io
    }

    @inline(__always)
    public static func fromVMX(_ exit: VMExit, registers: GuestRegisters) -> ExitEvent {
        switch exit {
        case .cpuid:
            return .cpuid(leaf: UInt32(truncatingIfNeeded: registers.rax),
                          subleaf: UInt32(truncatingIfNeeded: registers.rcx))
        case .hlt: return .hlt
        case .invd: return .invd
        case .wbinvd: return .wbinvd
        case .vmcall: return .hypercall
        case .rdmsr:
            return .msrRead(MSR(UInt32(truncatingIfNeeded: registers.rcx)))
        case .wrmsr:
            return .msrWrite(MSR(UInt32(truncatingIfNeeded: registers.rcx)), value: registers.edxEAX)
        case .xsetbv:
            return .xsetbv(index: UInt32(truncatingIfNeeded: registers.rcx), value: registers.edxEAX)
        case .tripleFault: return .tripleFault
        case .exceptionOrNMI(let information, let errorCode):
            if information.type == .nmi { return .nmi }
            return .exception(vector: information.vector, errorCode: errorCode)
        case .vmxInstruction(let reason): return .virtualizationInstruction(reason: reason)
        case .nmiWindow: return .nmiWindow
        case .preemptionTimerExpired: return .timer
        case .initSignal: return .initSignal
        case .startupIPI(let sipi): return .startupIPI(sipi)
        case .controlRegisterAccess(let access):
            let cr = access.controlRegister
            switch access.accessType {
            case .movToCR: return .crWrite(controlRegister: cr, value: registers[access.generalPurposeRegister])
            case .movFromCR: return .crRead(controlRegister: cr, destination: access.generalPurposeRegister)
            case .clts: return .clts
            default: return .lmsw(sourceData: access.lmswSourceData)
            }
        case .io(let access):
            return .io(portIO(access, registers: registers))
        case .eptViolation(let gpa, let qualification, let linear, let rip):
            let violation = EPTViolation(rawValue: qualification)
            let kind: MemoryAccess = violation.isInstructionFetch ? .fetch : violation.isWrite ? .write : .read
            return .nestedPageFault(NestedPageFault(guestPhysicalAddress: gpa, access: kind,
                                                    guestLinearAddress: linear, guestRIP: rip))
        case .eptMisconfiguration(let gpa):
            return .unhandled(reason: UInt32(ExitReason.eptMisconfiguration.rawValue), qualification: gpa)
        case .entryFailure(let raw, let qualification):
            return .entryFailure(reason: raw.rawValue, qualification: qualification)
        case .unhandled(let reason, let qualification):
            return .unhandled(reason: UInt32(reason.rawValue), qualification: qualification)
        }
    }
}
