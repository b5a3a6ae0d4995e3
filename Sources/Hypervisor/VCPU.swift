import EPT
import Loader
import VMExit
import VMXCore
import X86

/// The pages every guest of this CPU shares: MSR bitmap, I/O bitmaps A/B.
struct ExitBitmaps {
    let msr: UInt64
    let ioA: UInt64
    let ioB: UInt64

    init(allocator: inout FrameAllocator, memory: IdentityMemory, io: IOPolicy, patIsSwitched: Bool) {
        guard let first = try? allocator.allocate(pages: 3) else { fatal("vmx: no pages for the MSR and I/O bitmaps") }
        msr = first
        ioA = first + 0x1000
        ioB = first + 0x2000
        let page = { (address: UInt64) in UnsafeMutableRawBufferPointer(start: memory.pointer(address), count: 4096) }
        fillMSRBitmap(page(msr), patIsSwitched: patIsSwitched)
        fillIOBitmaps(a: page(ioA), b: page(ioB), policy: io)
        // PCI CONFIG_ADDRESS always exits; CONFIG_DATA only while it
        // selects the PM function (VCPU.updateConfigDataExits).
        let bitmapA = page(ioA)
        for port in PCIConfigPolicy.addressPorts { bitmapA[Int(port) / 8] |= 1 << UInt8(port % 8) }
    }
}

/// One virtual CPU on one VMCS: builds the VMCS, runs the guest until it
/// stops, and turns each VM exit into a policy decision (VMExit's
/// dispatcher) and back into VMCS updates. The VMX backend only decodes,
/// advances RIP, injects and resumes.
struct VCPU {
    var registers = GuestRegisters()
    var vmcs = HardwareVMCS()
    let vmcsRegion: UInt64
    let capabilities: VMXCapabilities
    /// The primary processor-based controls as written; "NMI-window
    /// exiting" is toggled here while an NMI waits for the guest.
    var primaryControls: PrimaryProcessorControls
    /// NMIs owed to the guest (from NMI exits and from NMIs the host took in
    /// root operation), at most 2 as on a real CPU (one being handled, one
    /// pending).
    var pendingNMIs: UInt64 = 0
    /// NMIs delivered to the guest so far.
    private(set) var deliveredNMIs: UInt64 = 0
    /// The EPT this guest runs on (its leaves carry the guest's MTRR types).
    var eptPointer = EPTPointer(rawValue: 0)
    /// The `MSRPolicy.mtrrGeneration` last mirrored into the EPT.
    private var appliedMTRRGeneration: UInt64?
    /// I/O bitmap A (ports 0-0x7FFF), for the CONFIG_DATA bits.
    var ioBitmapA: UInt64 = 0

    /// Allocates and loads a fresh VMCS (VMCLEAR, VMPTRLD) and writes the
    /// whole of it after the pre-launch checker accepts the state.
    init(
        capabilities: VMXCapabilities, allocator: inout FrameAllocator, memory: IdentityMemory,
        controls: VMCSControls, guest: VMCSGuestState
    ) throws(VMXError) {
        self.capabilities = capabilities
        primaryControls = controls.primaryProcessorBased
        let region = capabilities.vmcsRegion
        guard let address = try? allocator.allocate(pages: (region.size + 4095) / 4096) else {
            fatal("vmx: no page for a VMCS")
        }
        vmcsRegion = address
        try region.validate(address: address)
        region.initialize(memory.pointer(address))
        try VMXInstructionStatus(rflags: RFLAGS(rawValue: x86_vmclear(address))).check { 0 }
        try VMXInstructionStatus(rflags: RFLAGS(rawValue: x86_vmptrld(address))).check { 0 }

        let host = Self.hostState()
        if let failure = VMEntryChecker.check(controls: controls, host: host, guest: guest, capabilities: capabilities) {
            throw .entryCheckFailed(failure)
        }
        try writeVMCS(&vmcs, controls: controls, host: host, guest: guest)
    }

    /// The host-state area: this CPU as it runs now. RSP is written by the
    /// entry stub on every entry; RIP is the exit stub.
    static func hostState() -> VMCSHostState {
        VMCSHostState(
            cr0: CR0(rawValue: x86_read_cr0()), cr3: x86_read_cr3(), cr4: CR4(rawValue: x86_read_cr4()),
            csSelector: x86_read_cs(), ssSelector: x86_read_ss(), dsSelector: x86_read_ds(),
            esSelector: x86_read_es(), fsSelector: x86_read_fs(), gsSelector: x86_read_gs(),
            trSelector: x86_str(), trBase: x86_tss_base(), gdtrBase: x86_sgdt().base, idtrBase: x86_sidt().base,
            efer: EFER(rawValue: x86_rdmsr(MSR.efer.rawValue)), pat: x86_rdmsr(MSR.pat.rawValue),
            rsp: x86_stack_top(), rip: UInt64(UInt(bitPattern: unsafeBitCast(x86_vmx_exit_entry as @convention(c) () -> Void, to: UnsafeRawPointer.self))))
    }

    /// Runs the guest until a policy stops it.
    mutating func run<Table: CPUIDTable>(
        dispatcher: inout Dispatcher<Table>, memory: GuestRAM, checks: inout FixedCheckRecorder
    ) -> StopReason {
        var guestConsole = GuestConsole()
        var launched = false
        var injecting = false
        updateConfigDataExits(dispatcher.pciConfig.dataPortsNeedExits)
        while true {
            if appliedMTRRGeneration != dispatcher.msr.mtrrGeneration {
                reflectMTRRs(dispatcher.msr.mtrrs)
                appliedMTRRGeneration = dispatcher.msr.mtrrGeneration
            }
            deliverNMIs(injectingOtherEvent: injecting)
            injecting = false
            if hostileHarness?.attack != nil { hostileHarness!.lastEntryTSC = x86_rdtsc() }
            if !launched { Timeline.noteLaunch() }
            let flags = withUnsafeMutablePointer(to: &registers) { x86_vmx_enter($0, launched ? 1 : 0) }
            if flags != 0 {
                let status = VMXInstructionStatus(rflags: RFLAGS(rawValue: flags))
                do {
                    try status.check { UInt32(truncatingIfNeeded: vmcs.read(VMCS.vmInstructionError.encoding)) }
                } catch {
                    console.error("vmx: \(launched ? "VMRESUME" : "VMLAUNCH") failed: \(error.message)")
                }
                dispatcher.finishGuest(console: &guestConsole, checks: &checks)
                return .entryFailure(reason: 0, qualification: 0)
            }
            if !launched { Timeline.noteFirstExit() }
            launched = true
            if hostileHarness != nil { hostileHarness!.noteExit() }
            registers.rsp = vmcs.read(VMCS.guestRSP)
            let rspBefore = registers.rsp
            let exit = VMExit.decode(vmcs)
            let event = ExitEvent.fromVMX(exit, registers: registers)
            let action = dispatcher.handle(
                event, registers: &registers, vcpu: vmcs, memory: memory, console: &guestConsole, checks: &checks)
            switch action {
            case .resume, .advance:
                break
            case .inject(let vector, let errorCode):
                // Real mode (CR0.PE = 0) delivers no error code (Intel SDM
                // Vol. 3C, "Event Injection": VM entry fails otherwise).
                let protected = vmcs.guestVisibleCR0() & 1 != 0
                let deliver = protected && errorCode != nil
                vmcs.set(
                    VMCS.vmEntryInterruptionInformation,
                    ExitInterruptionInformation.hardwareException(vector, hasErrorCode: deliver).rawValue)
                if deliver, let errorCode { vmcs.set(VMCS.vmEntryExceptionErrorCode, errorCode) }
                injecting = true
                hostileHarness?.noteRefusal()
            case .queueNMI:
                // The NMI exit left NMIs blocked in root operation: lift it,
                // or no later NMI would ever arrive.
                x86_unblock_nmis()
                pendingNMIs = min(pendingNMIs + 1, 2)
            case .halt:
                enterHaltState()
            case .writeControlRegister(let update):
                applyControlRegister(update)
            case .readControlRegister(let controlRegister, let destination):
                if controlRegister == 3 { registers[destination] = vmcs.read(VMCS.guestCR3) }
            case .executeXSETBV(let index, let value):
                x86_xsetbv(index, value)
            case .executeWBINVD:
                x86_wbinvd()
            case .forwardPortIO(let io):
                forward(io)
                if io.port == PCIConfigPolicy.addressPort && io.size == 4 && !io.isIn {
                    updateConfigDataExits(dispatcher.pciConfig.dataPortsNeedExits)
                }
            case .harness(let call):
                registers.rax = harnessCall(call, statistics: dispatcher.statistics)
            case .stopGuest(let reason):
                // Under the hostile-guest harness, an open attack's stop is
                // counted and the guest resumes at its recovery point.
                if hostileHarness?.recover(from: reason, vmcs: &vmcs, registers: &registers) == true { continue }
                return reason
            }
            if action.advancesInstructionPointer {
                vmcs.set(VMCS.guestRIP, vmcs.read(VMCS.guestRIP) &+ UInt64(vmcs.read(VMCS.vmExitInstructionLength)))
            }
            if registers.rsp != rspBefore { vmcs.set(VMCS.guestRSP, registers.rsp) }
        }
    }

    /// The guest's MTRRs as EPT memory types (a leaf the MTRRs split gets
    /// UC, the type that is never wrong), then INVEPT so no stale type
    /// stays cached. Runs before the first entry and after each MTRR write
    /// the policy accepted.
    private func reflectMTRRs(_ mtrrs: MTRRState) {
        guard eptPointer.rawValue != 0 else { return }
        var memory = IdentityMemory()
        let changed = EPTMemoryTypes.retype(eptPointer, in: &memory) { start, size in
            EPTMemoryType(rawValue: (mtrrs.memoryType(ofAlignedRange: start, size: size) ?? .uncacheable).rawValue)
        }
        guard changed != 0 else { return }
        var descriptor = x86_invalidation_descriptor(low: eptPointer.rawValue, high: 0)
        let eptVPID = capabilities.eptVPID
        // Single-context (type 1) when the CPU has it, else all contexts (type 2).
        _ = x86_invept(eptVPID.supportsSingleContextINVEPT ? 1 : 2, &descriptor)
        console.line("ept: \(changed) leaves retyped from the guest's MTRRs")
    }

    /// Sets (or clears) CONFIG_DATA's four bits in I/O bitmap A. The
    /// processor reads the bitmap on each I/O instruction; it is changed
    /// only here, in root operation, between exits.
    private func updateConfigDataExits(_ intercept: Bool) {
        guard ioBitmapA != 0 else { return }
        let byte = UnsafeMutablePointer<UInt8>(bitPattern: UInt(ioBitmapA) + UInt(PCIConfigPolicy.dataPort / 8))!
        let mask: UInt8 = 0xF << UInt8(PCIConfigPolicy.dataPort % 8)  // 0xCFC-0xCFF: bits 4-7 of byte 0x19F
        byte.pointee = intercept ? byte.pointee | mask : byte.pointee & ~mask
    }

    /// Hypercalls 6-8 under the hostile-guest harness; RAX.
    private mutating func harnessCall(_ call: HarnessCall, statistics: ExitStatistics) -> UInt64 {
        guard hostileHarness != nil else { return Hypercall.failure }
        switch call {
        case .begin(let address, let length, let recoveryRIP):
            return hostileHarness!.begin(
                nameAddress: address, nameLength: length, recoveryRIP: recoveryRIP, vmcs: vmcs, statistics: statistics)
        case .end:
            return hostileHarness!.end(statistics: statistics)
        case .hostInfo(let address):
            return hostileHarness!.writeHostInfo(at: address)
        }
    }

    /// Gives the guest the NMIs it is owed: injects one when the guest can
    /// take it (no NMI, STI or MOV-SS blocking, no other event being
    /// injected), else opens an NMI window so the CPU exits as soon as it
    /// can. One VMREAD only while an NMI is pending.
    ///
    /// Intel SDM Vol. 3C, "Event Injection" and "Virtual-NMI Blocking"
    /// (virtual NMIs: VM entry with NMI blocking in the interruptibility
    /// state must not inject an NMI).
    private mutating func deliverNMIs(injectingOtherEvent: Bool) {
        let taken = x86_take_root_nmis()
        if taken != 0 { pendingNMIs = min(pendingNMIs + taken, 2) }
        if pendingNMIs != 0 && !injectingOtherEvent {
            let blocking = GuestInterruptibility(rawValue: vmcs.read(VMCS.guestInterruptibilityState))
            if blocking.isDisjoint(with: [.blockingBySTI, .blockingByMovSS, .blockingByNMI]) {
                vmcs.set(VMCS.vmEntryInterruptionInformation, ExitInterruptionInformation.nmi.rawValue)
                pendingNMIs -= 1
                deliveredNMIs += 1
            }
        }
        let wantWindow = pendingNMIs != 0
        if wantWindow != primaryControls.contains(.nmiWindowExiting) {
            if wantWindow { primaryControls.insert(.nmiWindowExiting) } else { primaryControls.remove(.nmiWindowExiting) }
            vmcs.set(VMCS.primaryProcessorBasedControls, primaryControls.rawValue)
        }
    }

    /// HLT with interrupts on: the guest sleeps in the HLT activity state
    /// until an interrupt or NMI arrives (the preemption timer still brings
    /// the hypervisor back). HLT ends any STI or MOV-SS shadow, and VM entry
    /// refuses the HLT state with either set (Intel SDM Vol. 3C, "Checks on
    /// Guest Non-Register State").
    private mutating func enterHaltState() {
        var interruptibility = GuestInterruptibility(rawValue: vmcs.read(VMCS.guestInterruptibilityState))
        if !interruptibility.isDisjoint(with: [.blockingBySTI, .blockingByMovSS]) {
            interruptibility.remove([.blockingBySTI, .blockingByMovSS])
            vmcs.set(VMCS.guestInterruptibilityState, interruptibility.rawValue)
        }
        vmcs.set(VMCS.guestActivityState, GuestActivityState.hlt.rawValue)
    }

    /// A MOV to CR0/CR4 that touched an owned bit: the guest's view goes to
    /// the read shadow, the real register keeps the VMX fixed bits.
    private mutating func applyControlRegister(_ update: ControlRegisterUpdate) {
        switch update.controlRegister {
        case 0:
            let visible = update.applied(to: vmcs.guestVisibleCR0())
            vmcs.set(VMCS.cr0ReadShadow, visible)
            vmcs.set(VMCS.guestCR0, capabilities.cr0Fixed.allowingUnrestrictedGuest().apply(visible))
        case 3:
            // Only CPUs that force CR3-load exiting get here; the guest owns CR3.
            vmcs.set(VMCS.guestCR3, update.applied(to: vmcs.read(VMCS.guestCR3)))
        case 4:
            let visible = update.applied(to: vmcs.guestVisibleCR4())
            vmcs.set(VMCS.cr4ReadShadow, visible)
            vmcs.set(VMCS.guestCR4, capabilities.cr4Fixed.apply(visible))
        default:
            // ControlRegisterPolicy only produces updates of CR0, CR3, CR4.
            console.error("vmx: control-register update of CR\(update.controlRegister) not applied")
        }
    }

    /// An access to a port the hypervisor watches but does not own
    /// (e.g. PM1a control that is not an S5 request): do it for the guest.
    /// An IN's result goes to RAX as `IOPolicy.portInResult` says.
    private mutating func forward(_ io: PortIO) {
        var ports = HardwarePorts()
        if io.isIn {
            let value: UInt32
            switch io.size {
            case 1: value = UInt32(ports.inb(io.port))
            case 2: value = UInt32(ports.inw(io.port))
            default: value = ports.inl(io.port)
            }
            registers.rax = IOPolicy.portInResult(rax: registers.rax, value: value, size: io.size)
        } else {
            switch io.size {
            case 1: ports.outb(io.port, UInt8(truncatingIfNeeded: io.value))
            case 2: ports.outw(io.port, UInt16(truncatingIfNeeded: io.value))
            default: ports.outl(io.port, io.value)
            }
        }
    }

    /// VMCLEAR: the VMCS is written back to memory and no longer current.
    func release() {
        _ = x86_vmclear(vmcsRegion)
    }
}
