import Devices
import EPT
import Primitives
import VMExit
import VMXCore
import X86

/// VT-x: the parked application processors as vCPUs of a guest that starts
/// its own CPUs (opt-in per guest: the SMP test guest).
///
/// Before the boot CPU launches such a guest, `launch` prepares a context
/// for every parked AP (a fresh dispatcher with its own statistics and
/// check tally, the session's EPT and bitmaps, a VMCS region, VPID = CPU
/// number + 1, the local APIC trap), lists the AP in the guest's
/// `VCPUDirectory`, sets the AP's request word and sends it NMIs until it
/// answers: the AP leaves its halt loop (`Processors.parkLoop`) and waits
/// in VMX root for the guest's STARTUP (`waitForStartup`), which the
/// hypervisor delivers through the AP's `StartupMailbox` (`LocalAPICTrap`:
/// the guest's INIT and STARTUP IPIs are never sent). A STARTUP starts a
/// fresh vCPU in the INIT state at the vector, active (`run`); it runs the
/// same exit loop as the boot CPU (`VCPU.run`) until an INIT (the vCPU
/// leaves the guest and waits again) or a stop.
///
/// Stopping: when the boot CPU's guest ends, `stopAll` sets each AP's stop
/// request and kicks it (an NMI: an exit while it runs guest code, a wake-up
/// while it waits), again until the AP is parked again; then prints each
/// AP's exit statistics and adds its checks to the session's. When the guest
/// stops on an AP (power-off, a touch of hypervisor memory, ...), the AP
/// reports it with its CPU number and stops the boot CPU's part the same
/// way, which then stops the rest.
///
/// Everything the AP touches is in the hypervisor's pool or its own state
/// page; it allocates nothing (the heap and the frame allocator are the boot
/// CPU's) and takes the console per line (`Console`).
enum APGuest {
    /// One AP's vCPU, prepared by the boot CPU (in the pool, hidden from
    /// guests), read by the AP after its request word.
    struct Context: APVCPUContext {
        var dispatcher: Dispatcher<CPUIDCache>
        var checks: FixedCheckRecorder
        var ram: GuestRAM
        var capabilities: VMXCapabilities
        var controls: VMCSControls
        var vmcsRegion: UInt64
        var eptPointer: UInt64
        var ioBitmapA: UInt64
        var bootAPICID: UInt32
        var trap: LocalAPICTrap
        /// Set by the AP when its vCPU stopped.
        var stop: StopReason?

        var nestedTablesRoot: UInt64 { EPTPointer(rawValue: eptPointer).pml4Address }
    }

    /// The pool page of the guest's `VCPUDirectory` (allocated once; BSP only).
    nonisolated(unsafe) private static var directoryPage: UInt64 = 0

    /// Spins between two stop signals to an AP, and signals before giving up.
    static let stopSpins = 2_000_000
    static let stopSignals = 50

    /// Prepares a vCPU on every parked AP and starts each waiting for the
    /// guest's STARTUP; returns the trap the guest's vCPUs share (the boot
    /// CPU's too) when at least one AP waits, else nil. Prints one line.
    /// `apicPage`: the xAPIC page, which the EPT maps read-only by now.
    /// `waitingIn`: where the APs wait, for the line. `prepare` makes the
    /// context of an AP's vCPU (the vendor's `Context`, its address) or
    /// returns nil.
    static func launch(
        apicPage: UInt64, waitingIn place: StaticString, platform: inout Platform,
        prepare: (Processors.ApplicationProcessor, LocalAPICTrap, inout Platform) -> UInt64?
    ) -> LocalAPICTrap? {
        guard !Processors.started.isEmpty else { return nil }
        if directoryPage == 0 {
            guard let page = try? platform.allocator.allocate(pages: 1) else {
                console.line("cpu: no pool page for the vCPU directory: the APs stay parked")
                return nil
            }
            directoryPage = page
        }
        let directory = VCPUDirectory(page: directoryPage)
        directory.count = 0
        let apic = LocalAPIC.current()
        let trap = LocalAPICTrap(base: apicPage, bootAPICID: apic.id, directory: directory)
        x86_store_release64(&x86_boot_cpu().pointee.stop_request, 0)
        x86_store_release64(&x86_boot_cpu().pointee.kicks, 0)
        var line: Message = "cpu: vCPUs waiting for STARTUP \(place) on APIC IDs"
        for ap in Processors.started where ap.phase == .parked {
            guard let context = prepare(ap, trap, &platform) else {
                console.line("cpu: APIC ID \(ap.apicID) stays parked (no pool memory or VMCS controls for its vCPU)")
                continue
            }
            x86_store_release64(&ap.state.pointee.stop_request, 0)
            x86_store_release64(&ap.state.pointee.startup_mailbox, StartupMailbox.waiting.rawValue)
            ap.state.pointee.vcpu_context = context
            x86_store_release64(&ap.state.pointee.request, Processors.Request.runVCPU.rawValue)
            // The AP may be between its request check and its HLT: an NMI
            // then only ends that HLT, so send until it answers.
            var answered = false
            for _ in 0..<stopSignals {
                _ = apic.send(.nmi, to: ap.apicID)
                if waitWhile(ap, inPhase: .parked) { answered = true; break }
            }
            if answered && ap.phase == .vcpu && directory.append(apicID: ap.apicID, state: ap.state) {
                line.append(" \(ap.apicID) (cpu \(ap.cpuNumber))")
            } else {
                console.line("cpu: APIC ID \(ap.apicID) did not start its vCPU (phase \(ap.phase.name))")
            }
        }
        guard directory.count > 0 else { return nil }
        console.line(line)
        return trap
    }

    /// The context of `ap` for this session's next guest (allocated once
    /// per AP, reused).
    static func prepare(
        _ ap: Processors.ApplicationProcessor, session: GuestSession, trap: LocalAPICTrap,
        platform: inout Platform, memory: IdentityMemory
    ) -> UnsafeMutablePointer<Context>? {
        let pages = (MemoryLayout<Context>.stride + 4095) / 4096
        let vmcsPages = (session.capabilities.vmcsRegion.size + 4095) / 4096
        var address = ap.state.pointee.vcpu_context
        if address == 0 {
            guard let contextPages = try? platform.allocator.allocate(pages: pages) else { return nil }
            memory.pointer(contextPages).initializeMemory(as: UInt8.self, repeating: 0, count: pages * Int(Page.size))
            address = contextPages
        }
        let context = UnsafeMutablePointer<Context>(bitPattern: UInt(address))!
        if context.pointee.vmcsRegion == 0 {
            guard let region = try? platform.allocator.allocate(pages: vmcsPages) else { return nil }
            context.pointee.vmcsRegion = region
        }
        // VPIDs tag TLB entries per logical processor; CPU number + 1 keeps
        // them apart from the boot CPU's guests all the same.
        guard let controls = try? session.controls(longModeGuest: false, vpid: UInt16(truncatingIfNeeded: ap.cpuNumber + 1))
        else { return nil }
        context.pointee.dispatcher = apDispatcher(from: session.dispatcher)
        context.pointee.checks = FixedCheckRecorder()
        context.pointee.ram = session.ram
        context.pointee.capabilities = session.capabilities
        context.pointee.controls = controls
        context.pointee.eptPointer = session.eptPointer
        context.pointee.ioBitmapA = session.bitmaps.ioA
        context.pointee.bootAPICID = trap.bootAPICID
        context.pointee.trap = trap
        context.pointee.stop = nil
        return context
    }

    /// An AP's dispatcher for the guest `template` (the boot CPU's) runs:
    /// the same policies, its own statistics, IA32_APIC_BASE as this CPU
    /// has it (the BSP flag, bit 8, clear).
    static func apDispatcher(from template: Dispatcher<CPUIDCache>) -> Dispatcher<CPUIDCache> {
        var host = template.msr.host
        host.apicBase &= ~(1 << 8)
        var dispatcher = Dispatcher(
            cpuid: template.cpuid, io: template.io, msr: MSRPolicy(host: host, patIsSwitched: template.msr.patIsSwitched),
            controlRegisters: template.controlRegisters, nestedPageFaults: template.nestedPageFaults)
        dispatcher.pciConfig = template.pciConfig
        dispatcher.isApplicationProcessor = true
        dispatcher.msr.startGuest()
        dispatcher.io.startGuest()
        return dispatcher
    }

    /// Spins (bounded, no timer a guest may have reprogrammed) while `ap`
    /// is in `phase`; true when it left it.
    static func waitWhile(_ ap: Processors.ApplicationProcessor, inPhase phase: Processors.Phase) -> Bool {
        spin { ap.phase != phase }
    }

    /// The same while `ap`'s NMI count is `count`.
    static func waitWhile(_ ap: Processors.ApplicationProcessor, nmiCount count: UInt64) -> Bool {
        spin { ap.nmiCount != count }
    }

    /// Spins (PAUSE) until `done` or `stopSpins` rounds; true if done.
    private static func spin(until done: () -> Bool) -> Bool {
        for _ in 0..<stopSpins {
            if done() { return true }
            x86_pause()
        }
        return false
    }

    /// Stops every AP's vCPU (the guest ended on the boot CPU, or an AP
    /// asked), prints each AP's exit statistics and adds its checks to
    /// `checks`.
    static func stopAll<VendorContext: APVCPUContext>(_: VendorContext.Type, checks: inout FixedCheckRecorder) {
        let apic = LocalAPIC.current()
        for ap in Processors.started where ap.state.pointee.vcpu_context != 0 {
            let context = UnsafeMutablePointer<VendorContext>(bitPattern: UInt(ap.state.pointee.vcpu_context))!
            if ap.phase == .vcpu {
                x86_store_release64(&ap.state.pointee.stop_request, 1)  // CPU 0 + 1
                var stopped = false
                for _ in 0..<stopSignals {
                    apic.kick(ap.state, apicID: ap.apicID)
                    if waitWhile(ap, inPhase: .vcpu) { stopped = true; break }
                }
                if !stopped {
                    console.error("cpu \(ap.cpuNumber): its vCPU did not stop: it may still run guest code")
                    continue
                }
            }
            console.line("cpu \(ap.cpuNumber): \(context.pointee.dispatcher.statistics.summaryLine)")
            console.write("pxhv: cpu \(ap.cpuNumber): ")
            context.pointee.dispatcher.statistics.writeReasonLine(to: &console)
            console.write("\n")
            merge(context.pointee.checks, into: &checks)
        }
        x86_store_release64(&x86_boot_cpu().pointee.stop_request, 0)
    }

    /// `other`'s passes and failures (with their names) added to `checks`.
    static func merge(_ other: FixedCheckRecorder, into checks: inout FixedCheckRecorder) {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        for _ in 0..<other.passed { checks.record(passed: true, name: none) }
        for index in 0..<other.failedNameCount {
            other.withFailedName(at: index) { checks.record(passed: false, name: $0) }
        }
        for _ in other.failedNameCount..<other.failed { checks.record(passed: false, name: none) }
    }

    /// On the AP (`Processors.parkLoop`, request `runVCPU`): waits for the
    /// guest's STARTUP, runs a vCPU from it until an INIT (then waits
    /// again) or a stop; then parked again.
    static func run(_ state: UnsafeMutablePointer<x86_ap_state>) {
        let context = UnsafeMutablePointer<Context>(bitPattern: UInt(state.pointee.vcpu_context))!
        let cpu = state.pointee.cpu_number
        // NMIs the AP took while parked (the requests among them) are not the guest's.
        x86_store_release64(&state.pointee.root_nmis, 0)
        x86_store_release64(&state.pointee.kicks, 0)
        if x86_read_cr4() & CR4.osxsave.rawValue != 0 { x86_xsetbv(0, XSETBVPolicy.resetXCR0) }
        // CPUID answers with this CPU's APIC IDs (the table is the boot CPU's).
        context.pointee.dispatcher.adoptProcessorIDs(of: HardwareCPUID())
        let capabilities = context.pointee.capabilities
        // The EPT's memory types and the APIC page may have changed since
        // this CPU last used it.
        var descriptor = x86_invalidation_descriptor(low: context.pointee.eptPointer, high: 0)
        _ = x86_invept(capabilities.eptVPID.supportsSingleContextINVEPT ? 1 : 2, &descriptor)
        x86_store_release64(&state.pointee.phase, Processors.Phase.vcpu.rawValue)

        // What INIT keeps of the previous run: CR0.CD/NW and IA32_PAT.
        var cacheControl: CR0 = [.cd, .nw]
        var pat = VMCSGuestState.defaultPAT
        while let vector = waitForStartup(state) {
            var vcpu: VCPU
            do {
                let start = VMCSGuestState.afterINIT(keepingCacheControlOf: cacheControl, pat: pat)
                    .startingAt(StartupIPI(vector: vector))
                vcpu = try VCPU(
                    capabilities: capabilities, vmcsRegion: context.pointee.vmcsRegion, memory: IdentityMemory(),
                    controls: context.pointee.controls, guest: start.applyingFixedBits(capabilities, unrestrictedGuest: true))
            } catch {
                console.line("cpu \(cpu): the vCPU cannot start at STARTUP vector \(hex: vector): \(error.message)")
                context.pointee.stop = .entryFailure(reason: 0, qualification: 0)
                stopGuest(from: cpu, bootAPICID: context.pointee.bootAPICID)
                break
            }
            vcpu.eptPointer = EPTPointer(rawValue: context.pointee.eptPointer)
            vcpu.ioBitmapA = context.pointee.ioBitmapA
            vcpu.localAPICTrap = context.pointee.trap
            vcpu.registers.rdx = VCPU.processorSignature

            let reason = vcpu.run(
                dispatcher: &context.pointee.dispatcher, memory: context.pointee.ram, checks: &context.pointee.checks)
            cacheControl = CR0(rawValue: vcpu.vmcs.guestVisibleCR0())
            if context.pointee.controls.vmExit.contains(.savePAT) { pat = vcpu.vmcs.read(VMCS.guestPAT) }
            if reason == .initSignal {
                // INIT: wait for the next STARTUP (one posted since is kept).
                leaveGuest(state)
                vcpu.release()
                continue
            }
            context.pointee.stop = reason
            if case .stopRequested = reason {
            } else {
                report(reason, cpu: cpu, rip: vcpu.vmcs.read(VMCS.guestRIP)) {
                    console.line("cpu \(cpu): guest: stopped: \(reason.name) at RIP \(hex: vcpu.vmcs.read(VMCS.guestRIP)) (CS \(hex: vcpu.vmcs.read(VMCS.guestCSSelector)), exit reason \(hex: vcpu.vmcs.read(VMCS.exitReason))): the guest stops on every CPU")
                }
                stopGuest(from: cpu, bootAPICID: context.pointee.bootAPICID)
            }
            vcpu.release()
            break
        }
        x86_store_release64(&state.pointee.phase, Processors.Phase.parked.rawValue)
    }

    /// In VMX root, interrupts off: halts until the guest's STARTUP for this
    /// AP (its vector) or a stop request (nil). NMIs taken here are kicks
    /// or NMIs for a CPU waiting for STARTUP, which takes none: dropped.
    static func waitForStartup(_ state: UnsafeMutablePointer<x86_ap_state>) -> UInt8? {
        while true {
            let nmis = x86_take_root_nmis()
            if nmis != 0 { _ = x86_consume_kicks(nmis) }
            if x86_stop_request() != 0 { return nil }
            let old = x86_load_acquire64(&state.pointee.startup_mailbox)
            if let (next, vector) = StartupMailbox(rawValue: old).takingStartup() {
                if x86_compare_exchange64(&state.pointee.startup_mailbox, old, next.rawValue) { return vector }
                continue
            }
            x86_ap_halt_unless_nmi()
        }
    }

    /// The vCPU left the guest on INIT: not running (a STARTUP posted
    /// since stays).
    static func leaveGuest(_ state: UnsafeMutablePointer<x86_ap_state>) {
        while true {
            let old = x86_load_acquire64(&state.pointee.startup_mailbox)
            if x86_compare_exchange64(&state.pointee.startup_mailbox, old, StartupMailbox(rawValue: old).leavingGuest.rawValue) {
                return
            }
        }
    }

    /// The guest stopped on this AP: the whole guest stops, the boot CPU
    /// first, which stops the rest.
    static func stopGuest(from cpu: UInt64, bootAPICID: UInt32) {
        x86_store_release64(&x86_boot_cpu().pointee.stop_request, cpu + 1)
        LocalAPIC.current().kick(x86_boot_cpu(), apicID: bootAPICID)
    }

    /// The guest stopped on this AP: one line with the CPU number, the
    /// reason and where (`rip`; `otherwise` says it for the reasons that
    /// need the vendor's state).
    static func report(_ reason: StopReason, cpu: UInt64, rip: UInt64, otherwise: () -> Void) {
        switch reason {
        case .guestPowerOff(let status):
            console.line("cpu \(cpu): guest: powered off (status \(status)): the guest stops on every CPU")
        case .initSentToBootCPU:
            console.line("cpu \(cpu): guest: INIT sent to the boot CPU at RIP \(hex: rip): the guest stops on every CPU")
        case .hypervisorMemoryAccess(let fault), .unmappedAccess(let fault):
            console.line("cpu \(cpu): guest: stopped: \(reason.name) at GPA \(hex: fault.guestPhysicalAddress) (\(fault.access.name)), RIP \(hex: fault.guestRIP): the guest stops on every CPU")
        default:
            otherwise()
        }
    }
}

/// What `APGuest.stopAll` reads of an AP's vCPU context, either vendor's
/// (`APGuest.Context`, `SVMAPGuest.Context`).
protocol APVCPUContext {
    var dispatcher: Dispatcher<CPUIDCache> { get }
    var checks: FixedCheckRecorder { get }
    /// The PML4 of the EPT or nested page tables the vCPU runs on.
    var nestedTablesRoot: UInt64 { get }
}
