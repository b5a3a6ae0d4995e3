/// How a VMX instruction ended, read from RFLAGS right after it.
///
/// VMsucceed clears CF, PF, AF, ZF, SF and OF. VMfailInvalid sets CF (no
/// current VMCS, or the pointer operand was bad). VMfailValid sets ZF and
/// stores an error number in the current VMCS's VM-instruction error field
/// (encoding 0x4400).
///
/// Intel SDM Vol. 3C, "Conventions" (31.2 in rev. 84).
public enum VMXInstructionStatus: Hashable, Sendable {
    /// VMsucceed.
    case succeeded
    /// VMfailInvalid: CF = 1.
    case failedInvalid
    /// VMfailValid: ZF = 1; the error number is in VMCS field 0x4400.
    case failedValid

    /// Decodes RFLAGS after a VMX instruction. CF wins over ZF (VMfail sets
    /// only one of them).
    public init(rflags: RFLAGS) {
        if rflags.contains(.carry) {
            self = .failedInvalid
        } else if rflags.contains(.zero) {
            self = .failedValid
        } else {
            self = .succeeded
        }
    }

    /// Throws for a failure. `instructionError` reads the VM-instruction
    /// error field (VMREAD of `VMCS.vmInstructionError`); it is
    /// called only for VMfailValid.
    public func check(instructionError: () -> UInt32) throws(VMXError) {
        switch self {
        case .succeeded: return
        case .failedInvalid: throw .failInvalid
        case .failedValid: throw .failValid(VMInstructionError(rawValue: instructionError()))
        }
    }
}
