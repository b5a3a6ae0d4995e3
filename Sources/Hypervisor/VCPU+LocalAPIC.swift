import Devices
import EPT
import Primitives
import VMExit
import VMXCore
import X86

/// The guest's write to the trapped local APIC page (`LocalAPICTrap`): the
/// MOV at RIP decoded, the write performed (or its INIT or STARTUP
/// delivered), RIP advanced.
extension VCPU {
    /// Emulates the store that faulted at `fault` (an EPT violation: the
    /// VM-exit instruction length is not defined for those, Intel SDM
    /// Vol. 3C, "VM-Exit Instruction Length", so the instruction is fetched
    /// through the guest's paging and decoded). Nil: the guest goes on past
    /// the instruction; else why this vCPU leaves the guest. Anything but a
    /// 32-bit MOV to the start of a register stops the guest with a line.
    @inline(never)
    mutating func emulateLocalAPICWrite(_ fault: NestedPageFault, memory: GuestRAMReference) -> StopReason? {
        let address = fault.guestPhysicalAddress
        let rip = vmcs.read(VMCS.guestRIP)
        guard let trap = localAPICTrap else { return .unmappedAccess(fault) }
        // The processor wrote a guest paging-structure entry (an A/D bit)
        // there, not a register.
        let isWalk = EPTViolation(rawValue: vmcs.read(VMCS.exitQualification)).linearAccess == .pagingStructureEntry
        let outcome = trap.emulateStore(
            isWalk: isWalk, codeSize: codeSize, address: address, rip: rip,
            code: GuestCodeMemory(ram: memory, lowHidden: Processors.trampolinePage),
            fetch: { fetchInstruction(into: $0, memory: memory) },
            // RSP is in the VMCS, not in the saved registers.
            register: { $0 == .rsp ? vmcs.read(VMCS.guestRSP) : registers[$0] })
        switch outcome {
        case .emulated(let length, let stop):
            advanceRIP(by: length)
            return stop
        case .refused(let stop):
            return stop
        }
    }

    /// RIP past an instruction of `length` bytes the hypervisor emulated
    /// (wrapping at 32 bits outside 64-bit mode), which also ends a STI or
    /// MOV-SS shadow it sat in.
    private mutating func advanceRIP(by length: Int) {
        let next = vmcs.read(VMCS.guestRIP) &+ UInt64(length)
        vmcs.set(VMCS.guestRIP, codeSize == .bits64 ? next : next & 0xFFFF_FFFF)
        let interruptibility = GuestInterruptibility(rawValue: vmcs.read(VMCS.guestInterruptibilityState))
        if !interruptibility.isDisjoint(with: [.blockingBySTI, .blockingByMovSS]) {
            vmcs.set(VMCS.guestInterruptibilityState, interruptibility.subtracting([.blockingBySTI, .blockingByMovSS]).rawValue)
        }
    }

    /// 64-bit mode (IA32_EFER.LMA, which VM exit saves into the "IA-32e
    /// mode guest" entry control, and CS.L), else CS.D.
    private var codeSize: CodeSize {
        let accessRights = SegmentAccessRights(rawValue: UInt32(truncatingIfNeeded: vmcs.read(VMCS.guestCSAccessRights)))
        if isLongModeActive && accessRights.is64BitCode { return .bits64 }
        return accessRights.isDefault32Bit ? .bits32 : .bits16
    }

    private var isLongModeActive: Bool {
        VMEntryControls(rawValue: UInt32(truncatingIfNeeded: vmcs.read(VMCS.vmEntryControls))).contains(.ia32eModeGuest)
    }

    /// Up to `buffer.count` bytes at CS:RIP through the guest's paging, from
    /// guest RAM or the first MiB only; how many were read.
    private func fetchInstruction(into buffer: UnsafeMutableRawBufferPointer, memory ram: GuestRAMReference) -> Int {
        let memory = GuestCodeMemory(ram: ram, lowHidden: Processors.trampolinePage)
        let paging = GuestPaging(
            cr0: vmcs.read(VMCS.guestCR0), cr3: vmcs.read(VMCS.guestCR3), cr4: vmcs.read(VMCS.guestCR4),
            efer: isLongModeActive ? EFER.lma.rawValue | EFER.lme.rawValue : 0)
        let rip = vmcs.read(VMCS.guestRIP)
        let linear = codeSize == .bits64 ? rip : (vmcs.read(VMCS.guestCSBase) &+ rip) & 0xFFFF_FFFF
        return paging.fetch(linear, into: buffer, memory: memory)
    }
}
