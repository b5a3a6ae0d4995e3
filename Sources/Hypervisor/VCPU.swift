import EPT
import Loader
import Primitives
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
    /// HOST_RSP as the entry stub last wrote it to this VMCS, 0 before the
    /// first entry (then the stub executes VMLAUNCH). See `x86_vmx_enter`.
    private var hostRSP: UInt64 = 0
    /// True while the hostile-guest harness has an attack open: a copy of
    /// `hostileHarness?.attack != nil`, refreshed wherever that can change
    /// (harness hypercalls, a recovered stop), so that the exit path tests
    /// a field of its own instead of the global optional.
    private var harnessAttackOpen = false
    /// True for the vCPU the hostile-guest harness judges (its dispatcher
    /// answers the harness hypercalls): the boot CPU's. An AP's vCPU of the
    /// same guest never touches the harness (its recovery point and timing
    /// are the boot CPU's guest's); its stops stop the guest everywhere.
    private var usesHarness = false
    /// True from `startRun` until the guest's first exit reaches the loop.
    private var awaitingFirstExit = false
    /// NMIs this vCPU took as NMI exits since the loop last counted them
    /// (with the root NMIs: some are kicks, the rest the guest's).
    private var arrivedNMIs: UInt64 = 0
    /// Set for a guest whose local APIC writes the hypervisor emulates
    /// (the SMP guests): how they reach the real APIC and the other vCPUs.
    var localAPICTrap: LocalAPICTrap?

    /// Allocates and loads a fresh VMCS (VMCLEAR, VMPTRLD) and writes the
    /// whole of it after the pre-launch checker accepts the state.
    init(
        capabilities: VMXCapabilities, allocator: inout FrameAllocator, memory: IdentityMemory,
        controls: VMCSControls, guest: VMCSGuestState
    ) throws(VMXError) {
        guard let address = try? allocator.allocate(pages: (capabilities.vmcsRegion.size + 4095) / 4096) else {
            fatal("vmx: no page for a VMCS")
        }
        try self.init(capabilities: capabilities, vmcsRegion: address, memory: memory, controls: controls, guest: guest)
    }

    /// The same on a VMCS region allocated before (an application
    /// processor's: the allocator is the boot CPU's alone).
    init(
        capabilities: VMXCapabilities, vmcsRegion address: UInt64, memory: IdentityMemory,
        controls: VMCSControls, guest: VMCSGuestState
    ) throws(VMXError) {
        self.capabilities = capabilities
        primaryControls = controls.primaryProcessorBased
        let region = capabilities.vmcsRegion
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

    /// The host-state area: this CPU as it runs now (its own TSS, GDT, IDT
    /// and per-CPU block in GS base, on an AP as on the BSP). RSP is written
    /// by the entry stub on every entry; RIP is the exit stub.
    static func hostState() -> VMCSHostState {
        VMCSHostState(
            cr0: CR0(rawValue: x86_read_cr0()), cr3: x86_read_cr3(), cr4: CR4(rawValue: x86_read_cr4()),
            csSelector: x86_read_cs(), ssSelector: x86_read_ss(), dsSelector: x86_read_ds(),
            esSelector: x86_read_es(), fsSelector: x86_read_fs(), gsSelector: x86_read_gs(),
            trSelector: x86_str(), gsBase: x86_rdmsr(MSR.gsBase.rawValue), trBase: x86_tss_base(), gdtrBase: x86_sgdt().base, idtrBase: x86_sidt().base,
            efer: EFER(rawValue: x86_rdmsr(MSR.efer.rawValue)), pat: x86_rdmsr(MSR.pat.rawValue),
            rsp: x86_stack_top(), rip: UInt64(UInt(bitPattern: unsafeBitCast(x86_vmx_exit_entry as @convention(c) () -> Void, to: UnsafeRawPointer.self))))
    }

    /// Runs the guest until a policy stops it.
    ///
    /// The exit path has two tiers. At every exit the exit stub
    /// (`x86_vmx_exit_entry`, Sources/X86/vmx_entry.S) saves the guest's
    /// registers into `registers` and calls the fast handler
    /// (`handleExitFast`, ExitFastPath.swift), a leaf function: it answers
    /// the frequent exits whose policy answer is "advance" and takes nothing
    /// out of line (CPUID from the table's direct index, VMCALL from CPL > 0
    /// and hypercall 3, RDMSR of an emulated MSR but the MTRRs, IN 0xE9)
    /// through the dispatcher's `quick…` entries, advances RIP, and the stub
    /// VMRESUMEs at once: the host's callee-saved registers stay pushed from
    /// `x86_vmx_enter`, and this loop is not involved. Every other exit comes
    /// back here (`runLoop`): `VMExit.decode`, `ExitEvent.fromVMX` and
    /// `Dispatcher.handle` (which routes the same frequent exits to the same
    /// policy code, `handleCPUID` etc., and the rest to `handleOther`), then
    /// the action. The loop also does the work before an entry (MTRR
    /// mirroring, NMI delivery and the NMI window, the hostile harness's
    /// timing, the first launch and first exit), and keeps the fast path
    /// closed whenever such work is due (`ExitFastPath.isOpen`); an NMI that
    /// arrives in root operation while the fast path runs sends it here
    /// before the next entry. Nothing on either tier allocates, copies a
    /// table, or builds a `String`.
    ///
    /// VMREADs per exit: the exit reason (0x4402), always; then only what the
    /// reason needs: CPUID leaf 1 and 7: CR4 guest/host mask, guest CR4, CR4
    /// read shadow (0x6002, 0x6804, 0x6006); VMCALL: guest SS access rights
    /// (0x4818, the CPL); HLT: guest RFLAGS (0x6820); I/O, CR access: the
    /// exit qualification (0x6400); CR access: guest RSP (0x681C); exceptions
    /// and NMIs: interruption information (0x4404) and error code (0x4406);
    /// EPT violations: qualification, guest-physical (0x2400) and -linear
    /// (0x640A) address, guest RIP (0x681E); a pending NMI: interruptibility
    /// (0x4824). An exit that advances RIP: guest RIP (0x681E) and the
    /// instruction length (0x440C; read, not assumed: the instruction may
    /// carry prefixes, which the field counts), then one VMWRITE of guest
    /// RIP. So on the fast path CPUID (leaf 0) and RDMSR cost 3 VMREADs and
    /// 1 VMWRITE, VMCALL and IN 0xE9 4 and 1 (an exit the fast path leaves
    /// to the loop reads the exit reason twice). HOST_RSP is written once
    /// per VMCS (the entry stub checks the stack is the same on each call).
    ///
    /// Instructions per round trip under Bochs (TSC = instructions; the test
    /// guest's `pxhv-guest: bench` lines), counted from the disassembly and
    /// matching the measured totals, CPUID leaf 0 / VMCALL (hypercall 3):
    /// guest loop 5 / 4; exit stub up to the call (15 stores, the context
    /// argument, call) 19; the C entry Swift emits for `@_cdecl` (a jump) 4;
    /// fast handler prologue, "path open" check 8; exit-reason VMREAD and
    /// route 11 / 7; policy 23 (table index, one bit test for the leaves
    /// with fix-ups) / 11 (CPL VMREAD and test, hypercall 3, the all-exits
    /// selector); count and register writes 11 / 6; RIP advance (2 VMREADs,
    /// 1 VMWRITE) 6; root-NMI check 5; epilogue 4; stub back to the guest
    /// (test, 15 loads, VMRESUME) 19. Measured: CPUID 115, VMCALL 93,
    /// IN 0xE9 111, RDMSR IA32_FEATURE_CONTROL 123 (before the fast path:
    /// 163, 193, 232, 148; before issue 8: 7211, 1090).
    ///
    /// Not generic (the hypervisor has one CPUID table): the optimizer then
    /// inlines the generic decode and dispatch into the loop and into the
    /// fast handler.
    mutating func run(
        dispatcher: inout Dispatcher<CPUIDCache>, memory: GuestRAM, checks: inout FixedCheckRecorder
    ) -> StopReason {
        memory.withReference { ram in
            withUnsafeMutablePointer(to: &checks) { checks in
                withUnsafeMutablePointer(to: &dispatcher) { dispatcher in
                    var fastPath = ExitFastPath(dispatcher: dispatcher, memory: ram, checks: checks)
                    return runLoop(&fastPath)
                }
            }
        }
    }

    /// The exit loop: the work before each entry, then the exits the fast
    /// handler left to it.
    private mutating func runLoop(_ fastPath: inout ExitFastPath) -> StopReason {
        let dispatcher = fastPath.dispatcher
        var guestConsole = GuestConsole()
        var injecting = false
        startRun(dispatcher: &dispatcher.pointee)
        while true {
            if appliedMTRRGeneration != dispatcher.pointee.msr.mtrrGeneration {
                applyMTRRs(dispatcher: &dispatcher.pointee)
            }
            // NMIs: the common case (none taken, none owed, no window open)
            // costs a few loads here; the rest is `deliverNMIs`.
            let taken = x86_take_root_nmis() + arrivedNMIs
            if taken | pendingNMIs != 0 || primaryControls.contains(.nmiWindowExiting) {
                if taken != 0 {
                    arrivedNMIs = 0
                    // The kicks among them were requests, not the guest's:
                    // taken off the count first, also when the request ends
                    // the guest (else the next vCPU on this CPU would take
                    // as many of its guest's NMIs for kicks).
                    let kicks = x86_consume_kicks(taken)
                    // Another CPU stops this one, or INITs its vCPU, with an
                    // NMI (VCPU+Startup.swift).
                    if let stop = Self.requestedStop() ?? Self.requestedINIT() {
                        dispatcher.pointee.finishGuest(console: &guestConsole, checks: &fastPath.checks.pointee)
                        return stop
                    }
                    pendingNMIs = min(pendingNMIs + taken - kicks, 2)
                }
                deliverNMIs(injectingOtherEvent: injecting)
            }
            if harnessAttackOpen { noteHarnessEntry() }
            fastPath.isOpen = !awaitingFirstExit && !harnessAttackOpen && pendingNMIs == 0
                && !primaryControls.contains(.nmiWindowExiting)
            let result = enterGuest(&fastPath)
            injecting = false
            // Handled by the fast path; only the work above is due (an NMI).
            if result == X86_VMX_EXIT_HANDLED { continue }
            guard result == X86_VMX_EXIT else {
                return entryFailed(result, dispatcher: &dispatcher.pointee, console: &guestConsole,
                                   checks: &fastPath.checks.pointee)
            }
            if awaitingFirstExit { noteFirstExit() }
            if harnessAttackOpen { noteHarnessExit() }
            let exit = VMExit.decode(vmcs)
            // Only a control-register access names RSP as an operand (MOV
            // to/from CR with RSP): the slot is filled for it alone.
            if case .controlRegisterAccess = exit { registers.rsp = vmcs.read(VMCS.guestRSP) }
            let event = ExitEvent.fromVMX(exit, registers: registers)
            let action = dispatcher.pointee.handle(
                event, registers: &registers, vcpu: vmcs, memory: fastPath.memory, console: &guestConsole,
                checks: &fastPath.checks.pointee)
            switch action {
            case .resume:
                break
            case .advance:
                vmcs.advanceRIP()
            default:
                if let reason = carryOut(action, dispatcher: &dispatcher.pointee, memory: fastPath.memory, injecting: &injecting) {
                    return reason
                }
            }
        }
    }

    // The loop stays small on purpose (everything rare is a call to one of
    // these): Swift inlines an `@inline(__always)` callee of more than 64
    // blocks only into a caller of fewer than 64.

    /// While a hostile-guest attack is open: the TSC at entry.
    @inline(never)
    private func noteHarnessEntry() {
        hostileHarness?.lastEntryTSC = x86_rdtsc()
    }

    /// While a hostile-guest attack is open: the stretch the guest ran.
    @inline(never)
    private func noteHarnessExit() {
        hostileHarness?.noteExit()
    }

    /// Before the first entry of a guest (VMLAUNCH).
    @inline(never)
    private mutating func startRun(dispatcher: inout Dispatcher<CPUIDCache>) {
        hostRSP = 0
        awaitingFirstExit = true
        usesHarness = dispatcher.harnessEnabled
        harnessAttackOpen = usesHarness && hostileHarness?.attack != nil
        updateConfigDataExits(dispatcher.pciConfig.dataPortsNeedExits)
        Timeline.noteLaunch()
    }

    /// The MSR policy's MTRRs changed (or a guest starts): mirror them into
    /// the EPT.
    @inline(never)
    private mutating func applyMTRRs(dispatcher: inout Dispatcher<CPUIDCache>) {
        reflectMTRRs(dispatcher.msr.mtrrs)
        appliedMTRRGeneration = dispatcher.msr.mtrrGeneration
    }

    /// The guest's first VM exit (the fast path stays closed until then, so
    /// the loop sees it).
    @inline(never)
    private mutating func noteFirstExit() {
        awaitingFirstExit = false
        Timeline.noteFirstExit()
    }

    /// VMLAUNCH or VMRESUME failed: report it; the guest is over.
    @inline(never)
    private mutating func entryFailed(
        _ flags: UInt64, dispatcher: inout Dispatcher<CPUIDCache>, console guestConsole: inout GuestConsole,
        checks: inout FixedCheckRecorder
    ) -> StopReason {
        let wasLaunch = flags & X86_VMX_ENTRY_FAILED_LAUNCH != 0  // the stub's marks (x86_vmx_enter)
        let status = VMXInstructionStatus(
            rflags: RFLAGS(rawValue: flags & ~(X86_VMX_ENTRY_FAILED | X86_VMX_ENTRY_FAILED_LAUNCH)))
        do {
            try status.check { UInt32(truncatingIfNeeded: vmcs.read(VMCS.vmInstructionError.encoding)) }
        } catch {
            let instruction: StaticString = wasLaunch ? "VMLAUNCH" : "VMRESUME"
            console.error("vmx: \(instruction) failed: \(error.message)")
        }
        dispatcher.finishGuest(console: &guestConsole, checks: &checks)
        return .entryFailure(reason: 0, qualification: 0)
    }

    /// Every action but `.resume` and `.advance` (which the loop does
    /// itself): the backend's part, then RIP as the action says.
    /// Returns the reason when the guest stops; `injecting` says whether an
    /// event is being injected at the next entry.
    @inline(never)
    private mutating func carryOut(
        _ action: ExitAction, dispatcher: inout Dispatcher<CPUIDCache>, memory: GuestRAMReference,
        injecting injected: inout Bool
    ) -> StopReason? {
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
            injected = true
            if usesHarness { hostileHarness?.noteRefusal() }
        case .queueNMI:
            // The NMI exit left NMIs blocked in root operation: lift it,
            // or no later NMI would ever arrive.
            x86_unblock_nmis()
            arrivedNMIs += 1
        case .halt:
            enterHaltState()
        case .writeControlRegister(let update):
            applyControlRegister(update)
        case .readControlRegister(let controlRegister, let destination):
            if controlRegister == 3 {
                let value = vmcs.read(VMCS.guestCR3)
                // RSP lives in the VMCS (the stub does not reload it).
                if destination == .rsp { vmcs.set(VMCS.guestRSP, value) } else { registers[destination] = value }
            }
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
        case .biosService(let frame):
            registers.rax = BIOSGuest.serve(frame: frame)
        case .waitForStartupIPI:
            // An AP's vCPU: out of the guest, to wait for STARTUP (APGuest).
            return .initSignal
        case .emulateLocalAPICWrite(let fault):
            guard let stop = emulateLocalAPICWrite(fault, memory: memory) else { return nil }
            return stop == .initSignal ? stop : unlessRecovered(stop)
        case .stopGuest(let reason):
            return unlessRecovered(reason)
        }
        if action.advancesInstructionPointer { vmcs.advanceRIP() }
        return nil
    }

    /// VM entries (VMLAUNCH the first time, VMRESUME after) until an exit
    /// the fast handler gives to the loop: `X86_VMX_EXIT`,
    /// `X86_VMX_EXIT_HANDLED`, or a failed entry (`X86_VMX_ENTRY_FAILED`).
    @inline(__always)
    private mutating func enterGuest(_ fastPath: inout ExitFastPath) -> UInt64 {
        withUnsafeMutablePointer(to: &registers) { registers in
            withUnsafeMutablePointer(to: &hostRSP) { hostRSP in
                withUnsafeMutablePointer(to: &fastPath) { x86_vmx_enter(registers, hostRSP, $0) }
            }
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

    private func updateConfigDataExits(_ intercept: Bool) {
        setConfigDataExits(intercept, ioBitmap: ioBitmapA)
    }

    /// `reason`, or nil when the hostile-guest harness has an attack open:
    /// the stop is counted and the guest resumes at its recovery point.
    /// Out of line: reading the harness (a large global) kept a copy of it
    /// in `carryOut`'s frame.
    @inline(never)
    private mutating func unlessRecovered(_ reason: StopReason) -> StopReason? {
        guard usesHarness else { return reason }
        let recovered = hostileHarness?.recover(from: reason, guest: &vmcs, registers: &registers) == true
        harnessAttackOpen = hostileHarness?.attack != nil
        return recovered ? nil : reason
    }

    /// Hypercalls 6-9 under the hostile-guest harness; RAX. Out of line:
    /// the statistics it passes on are a 1 KiB copy.
    @inline(never)
    private mutating func harnessCall(_ call: HarnessCall, statistics: ExitStatistics) -> UInt64 {
        defer { harnessAttackOpen = hostileHarness?.attack != nil }
        return hostileHarness?.handle(call, guest: vmcs, statistics: statistics) ?? Hypercall.failure
    }

    /// Gives the guest the NMIs it is owed: injects one when the guest can
    /// take it (no NMI, STI or MOV-SS blocking, no other event being
    /// injected), else opens an NMI window so the CPU exits as soon as it
    /// can. One VMREAD only while an NMI is pending.
    ///
    /// Intel SDM Vol. 3C, "Event Injection" and "Virtual-NMI Blocking"
    /// (virtual NMIs: VM entry with NMI blocking in the interruptibility
    /// state must not inject an NMI).
    @inline(never)
    private mutating func deliverNMIs(injectingOtherEvent: Bool) {
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

    private mutating func forward(_ io: PortIO) {
        forwardPortIO(io, rax: &registers.rax)
    }

    /// VMCLEAR: the VMCS is written back to memory and no longer current.
    func release() {
        _ = x86_vmclear(vmcsRegion)
    }
}

/// Sets (or clears) CONFIG_DATA's four bits in the I/O bitmap whose first
/// page covers ports 0-0x7FFF (VT-x's bitmap A, AMD-V's IOPM: same bit
/// layout). The processor reads the bitmap on each I/O instruction; it is
/// changed only here, in root operation, between exits.
func setConfigDataExits(_ intercept: Bool, ioBitmap: UInt64) {
    guard ioBitmap != 0 else { return }
    let byte = UnsafeMutablePointer<UInt8>(bitPattern: UInt(ioBitmap) + UInt(PCIConfigPolicy.dataPort / 8))!
    let mask: UInt8 = 0xF << UInt8(PCIConfigPolicy.dataPort % 8)  // 0xCFC-0xCFF: bits 4-7 of byte 0x19F
    byte.pointee = intercept ? byte.pointee | mask : byte.pointee & ~mask
}

/// An access to a port the hypervisor watches but does not own (e.g. PM1a
/// control that is not an S5 request): done for the guest. An IN's result
/// goes to `rax` as `IOPolicy.portInResult` says.
func forwardPortIO(_ io: PortIO, rax: inout UInt64) {
    var ports = HardwarePorts()
    if io.isIn {
        let value: UInt32
        switch io.size {
        case 1: value = UInt32(ports.inb(io.port))
        case 2: value = UInt32(ports.inw(io.port))
        default: value = ports.inl(io.port)
        }
        rax = IOPolicy.portInResult(rax: rax, value: value, size: io.size)
    } else {
        switch io.size {
        case 1: ports.outb(io.port, UInt8(truncatingIfNeeded: io.value))
        case 2: ports.outw(io.port, UInt16(truncatingIfNeeded: io.value))
        default: ports.outl(io.port, io.value)
        }
    }
}
