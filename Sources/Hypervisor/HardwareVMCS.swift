import Primitives
import VMExit
import VMXCore
import X86

/// The current VMCS through VMREAD/VMWRITE: the real conformance of
/// `VMCSAccess` (VMXCore) and of the exit decoder's sources (VMExit).
struct HardwareVMCS: VMCSAccess, ExitInformationSource, GuestStateSource {
    /// VMREAD of a field of the current VMCS: the value (0 if the CPU has
    /// no such field), without RFLAGS.
    @inline(__always)
    func read(_ encoding: UInt32) -> UInt64 {
        x86_vmread_field(UInt64(encoding))
    }

    mutating func write(_ encoding: UInt32, _ value: UInt64) throws(VMXError) {
        let status = VMXInstructionStatus(rflags: RFLAGS(rawValue: x86_vmwrite(UInt64(encoding), value)))
        try status.check { UInt32(truncatingIfNeeded: read(VMCS.vmInstructionError.encoding)) }
    }

    /// VMREAD of a field every VMCS has (exit information, guest RIP, guest
    /// segment state): one instruction fewer than `read`, which presets 0
    /// for fields a CPU may lack.
    @inline(__always)
    func readExisting(_ encoding: UInt32) -> UInt64 {
        x86_vmread_existing(UInt64(encoding))
    }

    /// Past the instruction that exited: guest RIP += the VM-exit
    /// instruction length (two VMREADs, one VMWRITE). The length is read,
    /// not assumed: the instruction may carry prefixes (redundant ones too),
    /// which the field counts (Intel SDM Vol. 3C, "Information for VM Exits
    /// Due to Instruction Execution").
    @inline(__always)
    mutating func advanceRIP() {
        let rip = readExisting(VMCS.guestRIP.encoding)
        let length = readExisting(VMCS.vmExitInstructionLength.encoding)
        x86_vmwrite_field(UInt64(VMCS.guestRIP.encoding), rip &+ length)
    }

    /// For fields written on every exit (RIP, RSP, injection): a VMWRITE to
    /// a valid field of the current VMCS cannot fail.
    @inline(__always)
    mutating func set<Value>(_ field: VMCSField<Value>, _ value: Value) {
        x86_vmwrite_field(UInt64(field.encoding), UInt64(value))
    }

    func exitReason() -> UInt32 { UInt32(truncatingIfNeeded: readExisting(VMCS.exitReason.encoding)) }
    func exitQualification() -> UInt64 { readExisting(VMCS.exitQualification.encoding) }
    func guestPhysicalAddress() -> UInt64 { read(VMCS.guestPhysicalAddress) }
    func interruptionInformation() -> UInt32 { read(VMCS.vmExitInterruptionInformation) }
    func interruptionErrorCode() -> UInt32 { read(VMCS.vmExitInterruptionErrorCode) }
    func guestLinearAddress() -> UInt64 { read(VMCS.guestLinearAddress) }
    func guestRIP() -> UInt64 { read(VMCS.guestRIP) }

    /// CR4 as the guest reads it: owned bits from the read shadow.
    func guestVisibleCR4() -> UInt64 {
        let mask = read(VMCS.cr4GuestHostMask)
        return (read(VMCS.guestCR4) & ~mask) | (read(VMCS.cr4ReadShadow) & mask)
    }

    /// Guest SS.DPL (access rights bits 6:5): the CPL (Intel SDM Vol. 3C,
    /// "Checks on Guest Segment Registers": SS.DPL equals CS.DPL, and the
    /// processor saves SS.DPL = CPL on every exit).
    func guestCPL() -> UInt8 {
        UInt8(truncatingIfNeeded: (readExisting(VMCS.guestSSAccessRights.encoding) >> 5) & 3)
    }

    func guestRFLAGS() -> UInt64 { read(VMCS.guestRFLAGS) }

    func guestVisibleCR0() -> UInt64 {
        let mask = read(VMCS.cr0GuestHostMask)
        return (read(VMCS.guestCR0) & ~mask) | (read(VMCS.cr0ReadShadow) & mask)
    }
}
