import Primitives
import SVMCore
import VMExit
import VMXCore

/// AMD-V: the guest's write to the trapped local APIC page
/// (`LocalAPICTrap`): a nested page fault (the leaf is read-only), the MOV
/// at RIP fetched through the guest's paging and decoded (QEMU's and
/// Bochs's SVM have no decode assists), the write performed, RIP advanced.
extension SVMVCPU {
    /// Nil: the guest goes on past the instruction; else why this vCPU
    /// leaves the guest.
    @inline(never)
    mutating func emulateLocalAPICWrite(_ fault: NestedPageFault, memory: GuestRAMReference) -> StopReason? {
        guard let trap = localAPICTrap else { return .unmappedAccess(fault) }
        let rip = vmcb.read(VMCB.rip)
        // EXITINFO1 bit 33: the guest's own page walk wrote there (A/D).
        let isWalk = SVMNestedPageFaultErrorCode(rawValue: vmcb.read(VMCB.exitInfo1)).isGuestPageTableWalk
        let size = codeSize
        let outcome = trap.emulateStore(
            isWalk: isWalk, codeSize: size, address: fault.guestPhysicalAddress, rip: rip,
            code: GuestCodeMemory(ram: memory, lowHidden: Processors.trampolinePage),
            fetch: { fetchInstruction(into: $0, memory: memory) },
            // RSP is in the VMCB; RAX was copied out of it at the exit.
            register: { $0 == .rsp ? vmcb.read(VMCB.rsp) : registers[$0] })
        switch outcome {
        case .emulated(let length, let stop):
            let next = rip &+ UInt64(length)
            vmcb.write(VMCB.rip, size == .bits64 ? next : next & 0xFFFF_FFFF)
            vmcb.write(VMCB.interruptShadow, vmcb.read(VMCB.interruptShadow) & ~1)
            return stop
        case .refused(let stop):
            return stop
        }
    }

    /// 64-bit mode, else CS.D (bit 10 of the VMCB's packed attributes; 0 in
    /// real mode).
    private var codeSize: CodeSize {
        if is64BitMode { return .bits64 }
        return vmcb.read(VMCB.cs.attributes) & (1 << 10) != 0 ? .bits32 : .bits16
    }
}
