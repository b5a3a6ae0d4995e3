import EPT
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// One virtual CPU on one VMCB (AMD-V): runs the guest until it stops and
/// turns each #VMEXIT into the vendor-neutral event the policies handle
/// (`SVMExit.decode`, `ExitEvent.fromSVM`, `Dispatcher.handle`), then into
/// VMCB updates. Like VT-x's `VCPU`, the backend only decodes, advances
/// RIP, injects and resumes.
///
/// What differs from VT-x, and why:
/// - RAX and RSP live in the VMCB; the other registers in `registers`
///   (`x86_svm_run`). RAX is copied in before and out after each VMRUN.
/// - Next RIP: the VMCB's nRIP when the CPU saves it (NRIPS); else IOIO's
///   EXITINFO2, or the length of the instruction at RIP, fetched through
///   the guest's own paging and decoded (`SVMNextRIP`), which also checks
///   the bytes are the instruction the exit names.
/// - The guest owns CR0, CR3, CR4 outright (no fixed bits, nothing to
///   hide): no CR intercepts. EFER and IA32_PAT are the backend's (EFER.SVME
///   must stay set in the guest's EFER and stays invisible to it; under
///   nested paging the guest's PAT is the VMCB's G_PAT).
/// - NMIs: the host runs with GIF = 0 (`x86_clgi`) and never sets it. A
///   guest on one CPU takes them itself (not intercepted): one that arrives
///   in the host is held until the next VMRUN and then taken by the guest,
///   through its own IDT, with the CPU's own NMI blocking. An SMP guest's
///   vCPUs intercept them (`takeNMIs(in:)`): other CPUs' kicks must exit;
///   the park guest takes each (`SVMParkGuest`) and the guest's own are
///   injected.
/// - HLT with interrupts on: there is no HLT activity state to enter. The
///   guest executes its HLT natively once (the intercept is off for that one
///   entry) and sleeps until its next interrupt; the intercept is back at
///   the next exit. HLT with interrupts off still stops the guest.
/// - No preemption timer: a guest that spins with interrupts off keeps
///   the CPU (said once at start).
/// - The hostile-guest harness: its hypercalls and its recovery of a stop
///   (`VMCBGuestState`) as under VT-x; a stop because the next RIP cannot
///   be found is recovered too.
struct SVMVCPU: VirtualCPU {
    var registers = GuestRegisters()
    let vmcbAddress: UInt64
    var vmcb: VMCBPage
    let hostState: UInt64
    let iopm: UInt64
    let hasNextRIPSave: Bool
    /// CPUID 8000_0008h EAX[7:0], for the pre-VMRUN checker.
    let physicalAddressWidth: Int
    /// The intercept vectors as written at start (HLT is dropped from
    /// vector 3 for one entry while the guest sleeps).
    private(set) var interceptVector3: UInt32
    /// An SMP guest's vCPU: NMIs exit (other CPUs' kicks must) and are
    /// taken in this CPU's park guest (`takeNMIs(in:)`).
    private(set) var nmiSink: SVMParkGuest?
    /// An SMP guest's vCPU: its writes to the local APIC are emulated.
    var localAPICTrap: LocalAPICTrap?
    /// NMIs taken since the last entry, and NMIs owed to the guest.
    private var arrivedNMIs: UInt64 = 0
    private var pendingNMIs: UInt64 = 0
    private var sleeping = false
    /// True while the hostile-guest harness has an attack open (a copy of
    /// `hostileHarness?.attack != nil`, as in `VCPU`).
    private var harnessAttackOpen = false
    /// True for the vCPU the hostile-guest harness judges (its dispatcher
    /// answers the harness hypercalls): the boot CPU's. An AP's vCPU of the
    /// same guest never touches the harness, as under VT-x.
    private var usesHarness = false
    private var reportedRefusedMove = false

    init(vmcbAddress: UInt64, hostState: UInt64, iopm: UInt64, hasNextRIPSave: Bool, physicalAddressWidth: Int) {
        self.physicalAddressWidth = physicalAddressWidth
        self.vmcbAddress = vmcbAddress
        vmcb = VMCBPage(UnsafeMutableRawPointer(bitPattern: UInt(vmcbAddress))!)
        self.hostState = hostState
        self.iopm = iopm
        self.hasNextRIPSave = hasNextRIPSave
        interceptVector3 = UInt32(truncatingIfNeeded: vmcb.read(VMCB.interceptVector3))
    }

    /// From now on NMIs exit and are taken in `sink` (this CPU's park
    /// guest): the kicks among them are requests of other CPUs (stop, the
    /// guest's INIT: `VCPU.requestedStop`, `VCPU.requestedINIT`), the rest
    /// are the guest's, injected (`deliverNMIs`).
    mutating func takeNMIs(in sink: SVMParkGuest) {
        nmiSink = sink
        interceptVector3 |= SVMInterceptVector3.nmi.rawValue
        vmcb.write(VMCB.interceptVector3, interceptVector3)
    }

    /// Runs the guest until a policy stops it.
    mutating func run(
        dispatcher: inout Dispatcher<CPUIDCache>, memory: GuestRAM, checks: inout FixedCheckRecorder
    ) -> StopReason {
        memory.withReference { ram in
            runLoop(dispatcher: &dispatcher, memory: ram, checks: &checks)
        }
    }

    private mutating func runLoop(
        dispatcher: inout Dispatcher<CPUIDCache>, memory: GuestRAMReference, checks: inout FixedCheckRecorder
    ) -> StopReason {
        var guestConsole = GuestConsole()
        var awaitingFirstExit = true
        setConfigDataExits(dispatcher.pciConfig.dataPortsNeedExits, ioBitmap: iopm)
        vmcb.write(VMCB.gPAT, dispatcher.msr.pat)
        usesHarness = dispatcher.harnessEnabled
        harnessAttackOpen = usesHarness && hostileHarness?.attack != nil
        Timeline.noteLaunch()
        while true {
            if arrivedNMIs | pendingNMIs != 0, let stop = deliverNMIs() {
                dispatcher.finishGuest(console: &guestConsole, checks: &checks)
                return stop
            }
            vmcb.write(VMCB.rax, registers.rax)
            if harnessAttackOpen { noteHarnessEntry() }
            withUnsafeMutablePointer(to: &registers) { x86_svm_run($0, vmcbAddress, hostState) }
            registers.rax = vmcb.read(VMCB.rax)
            if harnessAttackOpen { noteHarnessExit() }
            if awaitingFirstExit {
                awaitingFirstExit = false
                Timeline.noteFirstExit()
                vmcb.write(VMCB.tlbControl, 0)  // the first VMRUN flushed this ASID
            }
            if sleeping {
                sleeping = false
                vmcb.write(VMCB.interceptVector3, interceptVector3)
            }
            var exit = SVMExit.decode(
                exitCode: vmcb.read(VMCB.exitCode), exitInfo1: vmcb.read(VMCB.exitInfo1),
                exitInfo2: vmcb.read(VMCB.exitInfo2), exitIntInfo: vmcb.read(VMCB.exitInterruptInfo),
                guestRIP: vmcb.read(VMCB.rip))
            if case .wbinvd = exit, !hasNextRIPSave, isINVD(memory: memory) { exit = .invd }
            if case .invalid = exit {
                if refusedMoveToControlRegister(memory: memory) { continue }
                return entryFailed(dispatcher: &dispatcher, console: &guestConsole, checks: &checks)
            }
            if let action = backendMSR(exit) {
                if let reason = carryOut(action, exit: exit, dispatcher: &dispatcher, memory: memory) { return reason }
                continue
            }
            // Through a pointer: passing `registers` itself copied the whole
            // 128-byte block on every exit (`rep movsb`, seen in the listing).
            let event = withUnsafeMutablePointer(to: &registers) { ExitEvent.fromSVM(exit, registers: $0.pointee) }
            let action = dispatcher.handle(
                event, registers: &registers, vcpu: SVMGuestStateView(vmcb: vmcb), memory: memory,
                console: &guestConsole, checks: &checks)
            switch action {
            case .resume:
                continue
            case .advance where hasNextRIPSave && !exit.isWRMSR:
                // The frequent case inline: nRIP is the next RIP of every
                // instruction intercept, IOIO's included (`SVMNextRIP`).
                // (Not WRMSR: an accepted IA32_PAT write must reach G_PAT,
                // which `carryOut` mirrors.)
                vmcb.write(VMCB.rip, vmcb.read(VMCB.nextRIP))
                vmcb.write(VMCB.interruptShadow, vmcb.read(VMCB.interruptShadow) & ~1)
            default:
                if let reason = carryOut(action, exit: exit, dispatcher: &dispatcher, memory: memory) { return reason }
            }
        }
    }

    /// The action's backend part, then RIP as the action says. Returns the
    /// reason when the guest stops.
    @inline(never)
    private mutating func carryOut(
        _ action: ExitAction, exit: SVMExit, dispatcher: inout Dispatcher<CPUIDCache>, memory: GuestRAMReference
    ) -> StopReason? {
        switch action {
        case .resume, .advance:
            break
        case .inject(let vector, let errorCode):
            // Real mode (CR0.PE = 0) delivers no error code.
            let protected = vmcb.read(VMCB.cr0) & 1 != 0
            inject(SVMEventInjection.exception(vector.rawValue, errorCode: protected ? errorCode : nil))
            if usesHarness { hostileHarness?.noteRefusal() }
        case .queueNMI:
            // Only with `nmiSink`: the NMI is still pending; the park guest
            // takes it (an INIT intercepted there instead is dropped; the
            // NMI then exits again).
            guard let sink = nmiSink else {
                inject(SVMEventInjection.nmi)
                break
            }
            switch sink.run(from: .report) {
            case .nmis(let count): arrivedNMIs += max(count, 1)
            case .initSignal: break
            case .fault(let code): return .unhandledExit(reason: UInt32(truncatingIfNeeded: code), qualification: 0)
            }
        case .halt:
            // Natively, once: see the type's notes. RIP stays at the HLT.
            vmcb.write(VMCB.interceptVector3, interceptVector3 & ~SVMInterceptVector3.hlt.rawValue)
            sleeping = true
            return nil
        case .writeControlRegister(let update):
            return .unhandledControlRegisterAccess(controlRegister: update.controlRegister, isWrite: true)
        case .readControlRegister(let controlRegister, _):
            return .unhandledControlRegisterAccess(controlRegister: controlRegister, isWrite: false)
        case .executeXSETBV(let index, let value):
            x86_xsetbv(index, value)
        case .executeWBINVD:
            x86_wbinvd()
        case .forwardPortIO(let io):
            forwardPortIO(io, rax: &registers.rax)
            if io.port == PCIConfigPolicy.addressPort && io.size == 4 && !io.isIn {
                setConfigDataExits(dispatcher.pciConfig.dataPortsNeedExits, ioBitmap: iopm)
            }
        case .harness(let call):
            registers.rax = harnessCall(call, statistics: dispatcher.statistics)
        case .biosService(let frame):
            registers.rax = BIOSGuest.serve(frame: frame)
        case .waitForStartupIPI:
            // An INIT reached an AP's vCPU (the guest's own are trapped and
            // delivered as a kick): it waits for a STARTUP again.
            return .initSignal
        case .emulateLocalAPICWrite(let fault):
            guard let stop = emulateLocalAPICWrite(fault, memory: memory) else { return nil }
            return stop == .initSignal ? stop : unlessRecovered(stop)
        case .stopGuest(let reason):
            return unlessRecovered(reason)
        }
        if case .wrmsr = exit, vmcb.read(VMCB.gPAT) != dispatcher.msr.pat {
            vmcb.write(VMCB.gPAT, dispatcher.msr.pat)
        }
        if action.advancesInstructionPointer, let reason = advanceRIP(exit, memory: memory) {
            return unlessRecovered(reason)
        }
        return nil
    }

    /// The NMIs taken since the last entry: a stop or INIT request among
    /// them ends this vCPU's run; the guest's own (those not counted as
    /// kicks, at most 2 owed as on bare metal) are injected one per entry.
    @inline(never)
    private mutating func deliverNMIs() -> StopReason? {
        if arrivedNMIs != 0 {
            let arrived = arrivedNMIs
            arrivedNMIs = 0
            // The kicks among them are taken off the count first, also when
            // the request ends the guest (else the next vCPU on this CPU
            // would take as many of its guest's NMIs for kicks).
            let kicks = x86_consume_kicks(arrived)
            if let stop = VCPU.requestedStop() ?? VCPU.requestedINIT() { return stop }
            pendingNMIs = min(pendingNMIs + arrived - kicks, 2)
        }
        if pendingNMIs != 0 && !SVMEventInjection(rawValue: vmcb.read(VMCB.eventInjection)).isValid {
            inject(SVMEventInjection.nmi)
            pendingNMIs -= 1
        }
        return nil
    }

    /// Hypercalls 6-9 under the hostile-guest harness; RAX. Out of line:
    /// the statistics it passes on are a 1 KiB copy.
    @inline(never)
    private mutating func harnessCall(_ call: HarnessCall, statistics: ExitStatistics) -> UInt64 {
        let result = hostileHarness?.handle(call, guest: VMCBGuestState(vmcb: vmcb), statistics: statistics)
        harnessAttackOpen = usesHarness && hostileHarness?.attack != nil
        return result ?? Hypercall.failure
    }

    /// `reason`, or nil when the hostile-guest harness has an attack open:
    /// the stop is counted and the guest resumes at the attack's recovery
    /// point (the next RIP not found counts too: a guest that makes the
    /// fetch of its instruction fail is stopped, then recovered).
    @inline(never)
    private mutating func unlessRecovered(_ reason: StopReason) -> StopReason? {
        guard harnessAttackOpen else { return reason }
        var guest = VMCBGuestState(vmcb: vmcb)
        let recovered = hostileHarness?.recover(from: reason, guest: &guest, registers: &registers) == true
        harnessAttackOpen = usesHarness && hostileHarness?.attack != nil
        return recovered ? nil : reason
    }

    /// While a hostile-guest attack is open: the TSC at VMRUN.
    @inline(never)
    private func noteHarnessEntry() {
        hostileHarness?.lastEntryTSC = x86_rdtsc()
    }

    /// While a hostile-guest attack is open: the stretch the guest ran.
    @inline(never)
    private func noteHarnessExit() {
        hostileHarness?.noteExit()
    }

    /// EFER: the guest reads its EFER without SVME and may not clear it
    /// (a write keeps SVME set; a reserved bit or SVME itself is #GP). Nil
    /// for every other MSR (the policy's).
    ///
    /// AMD APM Vol. 2, "Extended Feature Enable Register (EFER)" (3.1.7 in
    /// rev. 3.42): SCE 0, LME 8, LMA 10, NXE 11, SVME 12, LMSLE 13, FFXSR 14,
    /// TCE 15; the rest are reserved, MBZ.
    private mutating func backendMSR(_ exit: SVMExit) -> ExitAction? {
        let isWrite: Bool
        switch exit {
        case .rdmsr: isWrite = false
        case .wrmsr: isWrite = true
        default: return nil
        }
        guard MSR(UInt32(truncatingIfNeeded: registers.rcx)) == .efer else { return nil }
        let svme = EFER.svme.rawValue
        if !isWrite {
            let value = vmcb.read(VMCB.efer) & ~svme
            registers.rax = value & 0xFFFF_FFFF
            registers.rdx = value >> 32
            return .advance
        }
        let value = registers.edxEAX
        let writable: UInt64 = 1 << 0 | 1 << 8 | 1 << 11 | 1 << 13 | 1 << 14 | 1 << 15
        guard value & ~(writable | 1 << 10) == 0 else { return .inject(.generalProtection, errorCode: 0) }
        // LMA is the processor's (read-only); keep the current one.
        vmcb.write(VMCB.efer, (value & writable) | (vmcb.read(VMCB.efer) & (1 << 10)) | svme)
        return .advance
    }

    /// Event injection at the next VMRUN (AMD APM Vol. 2, "Event
    /// Injection" (15.20 in rev. 3.42)).
    private mutating func inject(_ event: SVMEventInjection) {
        vmcb.write(VMCB.eventInjection, event.rawValue)
    }

    /// RIP past the instruction that exited (`SVMNextRIP`: IOIO's
    /// EXITINFO2, else nRIP with NRIPS, else the decoded length of the
    /// bytes at CS:RIP fetched through the guest's paging); clears the
    /// interrupt shadow (the instruction is done). Stops the guest when the
    /// next RIP cannot be found.
    private mutating func advanceRIP(_ exit: SVMExit, memory: GuestRAMReference) -> StopReason? {
        let rip = vmcb.read(VMCB.rip)
        let is64BitMode = self.is64BitMode
        var window: (UInt64, UInt64) = (0, 0)
        let next: UInt64
        do throws(SVMNextRIPError) {
            next = try withUnsafeMutableBytes(of: &window) { buffer throws(SVMNextRIPError) -> UInt64 in
                var count = 0
                var isIO = false
                if case .io = exit { isIO = true }
                if !hasNextRIPSave, !isIO {
                    count = fetchInstruction(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<15]), memory: memory)
                }
                return try SVMNextRIP.compute(
                    for: exit, guestRIP: rip, nRIP: hasNextRIPSave ? vmcb.read(VMCB.nextRIP) : nil,
                    instructionBytes: UnsafeRawBufferPointer(rebasing: buffer[0..<count]), is64BitMode: is64BitMode)
            }
        } catch {
            reportNoNextRIP(error, rip: rip, memory: memory)
            return .unhandledExit(reason: UInt32(truncatingIfNeeded: vmcb.read(VMCB.exitCode)), qualification: rip)
        }
        vmcb.write(VMCB.rip, next)
        vmcb.write(VMCB.interruptShadow, vmcb.read(VMCB.interruptShadow) & ~1)
        return nil
    }

    /// The one line for a next RIP not found, with the bytes at RIP. Out of
    /// line: its text is a `Message` on the stack.
    @inline(never)
    private func reportNoNextRIP(_ error: SVMNextRIPError, rip: UInt64, memory: GuestRAMReference) {
        var bytes: (UInt64, UInt64) = (0, 0)
        let count = withUnsafeMutableBytes(of: &bytes) {
            fetchInstruction(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<15]), memory: memory)
        }
        console.error("svm: \(error.message) at RIP \(hex: rip) (\(count) bytes there: \(hex: bytes.0.byteSwapped, digits: 16) \(hex: bytes.1.byteSwapped, digits: 16))")
    }

    /// True in 64-bit mode: CS.L and EFER.LMA.
    var is64BitMode: Bool {
        vmcb.read(VMCB.cs.attributes) & (1 << 9) != 0 && vmcb.read(VMCB.efer) & (1 << 10) != 0
    }

    /// Up to `buffer.count` bytes at CS:RIP, through the guest's own paging
    /// and only from guest RAM or the first MiB (`GuestCodeMemory`); how
    /// many were read.
    func fetchInstruction(into buffer: UnsafeMutableRawBufferPointer, memory ram: GuestRAMReference) -> Int {
        let memory = GuestCodeMemory(ram: ram, lowHidden: Processors.trampolinePage)
        let paging = GuestPaging(
            cr0: vmcb.read(VMCB.cr0), cr3: vmcb.read(VMCB.cr3), cr4: vmcb.read(VMCB.cr4), efer: vmcb.read(VMCB.efer))
        let rip = vmcb.read(VMCB.rip)
        let linear = is64BitMode ? rip : (vmcb.read(VMCB.cs.base) &+ rip) & 0xFFFF_FFFF
        return paging.fetch(linear, into: buffer, memory: memory)
    }

    /// QEMU 7.2's TCG reports INVD (0F 08) with WBINVD's exit code (its
    /// translator picks the code by opcode bit 1, which both share): true
    /// when the bytes at RIP are INVD. (Only without NRIPS, i.e. there.)
    private func isINVD(memory: GuestRAMReference) -> Bool {
        var window: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &window) { buffer in
            let count = fetchInstruction(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<15]), memory: memory)
            return SVMInstruction.invd.length(
                in: UnsafeRawBufferPointer(rebasing: buffer[0..<count]), is64BitMode: is64BitMode) != nil
        }
    }

    /// QEMU 7.2's TCG answers a guest MOV to CR0/CR3/CR4 that sets a
    /// reserved bit with #VMEXIT(VMEXIT_INVALID) at that instruction, where
    /// the processor raises #GP(0) in the guest (AMD APM Vol. 2, "CR4
    /// Register": reserved bits MBZ, #GP otherwise). When the VMCB passes
    /// every pre-VMRUN check (so the guest state is not what VMRUN refused)
    /// and the bytes at RIP are a MOV to CR, the guest gets that #GP(0) and
    /// runs on (said once); anything else is a real entry failure.
    private mutating func refusedMoveToControlRegister(memory: GuestRAMReference) -> Bool {
        guard VMRUNChecker.check(vmcb, physicalAddressWidth: physicalAddressWidth) == nil else { return false }
        var window: (UInt64, UInt64) = (0, 0)
        let decoded = withUnsafeMutableBytes(of: &window) { buffer in
            let count = fetchInstruction(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<15]), memory: memory)
            return SVMInstruction.decodeMoveControlRegister(
                UnsafeRawBufferPointer(rebasing: buffer[0..<count]), is64BitMode: is64BitMode)
        }
        guard let decoded, decoded.access.isWrite else { return false }
        if !reportedRefusedMove {
            reportedRefusedMove = true
            console.line("svm: VMEXIT_INVALID at a MOV to CR\(decoded.access.controlRegister) (RIP \(hex: vmcb.read(VMCB.rip))) with a valid VMCB: the emulator's answer to a reserved bit; #GP(0) injected as the processor would")
        }
        inject(SVMEventInjection.exception(13, errorCode: 0))
        return true
    }

    /// VMRUN refused the guest state (EXITCODE VMEXIT_INVALID): the
    /// pre-VMRUN checker names the check when it knows it.
    @inline(never)
    private mutating func entryFailed(
        dispatcher: inout Dispatcher<CPUIDCache>, console guestConsole: inout GuestConsole,
        checks: inout FixedCheckRecorder
    ) -> StopReason {
        if let failure = VMRUNChecker.check(vmcb, physicalAddressWidth: physicalAddressWidth) {
            console.error("svm: VMRUN failed (VMEXIT_INVALID): \(failure.text)")
        } else {
            console.error("svm: VMRUN failed (VMEXIT_INVALID); the pre-VMRUN checker finds no failing check")
        }
        dispatcher.finishGuest(console: &guestConsole, checks: &checks)
        return .entryFailure(reason: UInt32(truncatingIfNeeded: vmcb.read(VMCB.exitCode)), qualification: 0)
    }
}

extension SVMExit {
    /// True for a WRMSR intercept.
    var isWRMSR: Bool {
        if case .wrmsr = self { return true }
        return false
    }
}

/// The guest state the policies read, from the VMCB.
struct SVMGuestStateView: GuestStateSource {
    let vmcb: VMCBPage
    func guestCPL() -> UInt8 { vmcb.read(VMCB.cpl) & 3 }
    func guestRFLAGS() -> UInt64 { vmcb.read(VMCB.rflags) }
    func guestVisibleCR4() -> UInt64 { vmcb.read(VMCB.cr4) }
}
