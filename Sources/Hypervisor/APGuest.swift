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
/// number + 1), sets the AP's request word and sends it NMIs until it
/// answers: the AP leaves its halt loop (`Processors.parkLoop`), builds its
/// VMCS in the INIT state waiting for SIPI (`VMCSGuestState.afterINIT`),
/// and VMLAUNCHes. It then runs the same exit loop as the boot CPU
/// (`VCPU.run`); the guest's INIT and SIPI reach it as VM exits
/// (VCPU+Startup.swift).
///
/// Stopping: when the boot CPU's guest ends, `stopAll` sets each AP's stop
/// request and sends it an NMI (an exit in the active and HLT states) and a
/// SIPI (an exit in wait-for-SIPI, where NMIs are blocked), again until the
/// AP is parked again; then prints each AP's exit statistics and adds its
/// checks to the session's. When the guest stops on an AP (power-off, a
/// touch of hypervisor memory, ...), the AP reports it with its CPU number
/// and stops the boot CPU's part the same way, which then stops the rest.
///
/// Everything the AP touches is in the hypervisor's pool or its own state
/// page; it allocates nothing (the heap and the frame allocator are the boot
/// CPU's) and takes the console per line (`Console`).
enum APGuest {
    /// One AP's vCPU, prepared by the boot CPU (in the pool, hidden from
    /// guests), read by the AP after its request word.
    struct Context {
        var dispatcher: Dispatcher<CPUIDCache>
        var checks: FixedCheckRecorder
        var ram: GuestRAM
        var capabilities: VMXCapabilities
        var controls: VMCSControls
        var vmcsRegion: UInt64
        var eptPointer: UInt64
        var ioBitmapA: UInt64
        var bootAPICID: UInt32
        /// Set by the AP when its vCPU stopped.
        var stop: StopReason?
    }

    /// Spins between two stop signals to an AP, and signals before giving up.
    static let stopSpins = 2_000_000
    static let stopSignals = 50

    /// Prepares and starts a vCPU on every parked AP; returns how many run.
    /// Prints one line. VT-x with the wait-for-SIPI activity state only.
    static func launch(session: GuestSession, platform: inout Platform, memory: IdentityMemory) -> Int {
        guard !Processors.started.isEmpty else { return 0 }
        guard session.capabilities.miscellaneous.activityStates.contains(.waitForSIPI) else {
            console.line("cpu: the CPU has no wait-for-SIPI activity state (IA32_VMX_MISC bit 8): the APs stay parked")
            return 0
        }
        let apic = LocalAPIC.current()
        x86_store_release64(&x86_boot_cpu().pointee.stop_request, 0)
        var running = 0
        var line: Message = "cpu: vCPUs waiting for SIPI on APIC IDs"
        for ap in Processors.started where ap.phase == .parked {
            guard let context = prepare(ap, session: session, bootAPICID: apic.id, platform: &platform, memory: memory)
            else {
                console.line("cpu: APIC ID \(ap.apicID) stays parked (no pool memory or VMCS controls for its vCPU)")
                continue
            }
            x86_store_release64(&ap.state.pointee.stop_request, 0)
            ap.state.pointee.vcpu_context = UInt64(UInt(bitPattern: context))
            x86_store_release64(&ap.state.pointee.request, Processors.Request.runVCPU.rawValue)
            // The AP may be between its request check and its HLT: an NMI
            // then only ends that HLT, so send until it answers.
            var answered = false
            for _ in 0..<stopSignals {
                _ = apic.send(.nmi, to: ap.apicID)
                if waitWhile(ap, inPhase: .parked) { answered = true; break }
            }
            if answered && ap.phase == .vcpu {
                running += 1
                line.append(" \(ap.apicID) (cpu \(ap.cpuNumber))")
            } else {
                console.line("cpu: APIC ID \(ap.apicID) did not start its vCPU (phase \(ap.phase.name))")
            }
        }
        if running > 0 { console.line(line) }
        return running
    }

    /// The context of `ap` for this session's next guest (allocated once
    /// per AP, reused).
    private static func prepare(
        _ ap: Processors.ApplicationProcessor, session: GuestSession, bootAPICID: UInt32,
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
        let template = session.dispatcher
        var dispatcher = Dispatcher(
            cpuid: template.cpuid, io: template.io, msr: template.msr, controlRegisters: template.controlRegisters,
            nestedPageFaults: template.nestedPageFaults)
        dispatcher.pciConfig = template.pciConfig
        dispatcher.isApplicationProcessor = true
        dispatcher.msr.startGuest()
        dispatcher.io.startGuest()
        context.pointee.dispatcher = dispatcher
        context.pointee.checks = FixedCheckRecorder()
        context.pointee.ram = session.ram
        context.pointee.capabilities = session.capabilities
        context.pointee.controls = controls
        context.pointee.eptPointer = session.eptPointer
        context.pointee.ioBitmapA = session.bitmaps.ioA
        context.pointee.bootAPICID = bootAPICID
        context.pointee.stop = nil
        return context
    }

    /// Spins (bounded, no timer a guest may have reprogrammed) while `ap`
    /// is in `phase`; true when it left it.
    private static func waitWhile(_ ap: Processors.ApplicationProcessor, inPhase phase: Processors.Phase) -> Bool {
        for _ in 0..<stopSpins {
            if ap.phase != phase { return true }
            x86_pause()
        }
        return false
    }

    /// Stops every AP's vCPU (the guest ended on the boot CPU, or an AP
    /// asked), prints each AP's exit statistics and adds its checks to
    /// `checks`.
    static func stopAll(checks: inout FixedCheckRecorder) {
        let apic = LocalAPIC.current()
        for ap in Processors.started where ap.state.pointee.vcpu_context != 0 {
            let context = UnsafeMutablePointer<Context>(bitPattern: UInt(ap.state.pointee.vcpu_context))!
            if ap.phase == .vcpu {
                x86_store_release64(&ap.state.pointee.stop_request, 1)  // CPU 0 + 1
                var stopped = false
                for _ in 0..<stopSignals {
                    _ = apic.send(.nmi, to: ap.apicID)
                    // Vector: the hidden trampoline page (its halt loop), never guest code.
                    _ = apic.send(.startup(page: Processors.trampolinePage.start), to: ap.apicID)
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

    /// On the AP (`Processors.parkLoop`, request `runVCPU`): the vCPU from
    /// its context, run until its guest stops; then parked again.
    static func run(_ state: UnsafeMutablePointer<x86_ap_state>) {
        let context = UnsafeMutablePointer<Context>(bitPattern: UInt(state.pointee.vcpu_context))!
        let cpu = state.pointee.cpu_number
        // NMIs the AP took while parked (the requests among them) are not the guest's.
        x86_store_release64(&state.pointee.root_nmis, 0)
        if x86_read_cr4() & CR4.osxsave.rawValue != 0 { x86_xsetbv(0, XSETBVPolicy.resetXCR0) }
        let capabilities = context.pointee.capabilities
        var vcpu: VCPU
        do {
            vcpu = try VCPU(
                capabilities: capabilities, vmcsRegion: context.pointee.vmcsRegion, memory: IdentityMemory(),
                controls: context.pointee.controls,
                guest: VMCSGuestState.afterINIT().applyingFixedBits(capabilities, unrestrictedGuest: true))
        } catch {
            console.line("cpu \(cpu): the vCPU cannot start: \(error.message)")
            x86_store_release64(&state.pointee.phase, Processors.Phase.parked.rawValue)
            return
        }
        vcpu.eptPointer = EPTPointer(rawValue: context.pointee.eptPointer)
        vcpu.ioBitmapA = context.pointee.ioBitmapA
        vcpu.registers.rdx = VCPU.processorSignature
        // The EPT's memory types may have changed since this CPU last used it.
        var descriptor = x86_invalidation_descriptor(low: context.pointee.eptPointer, high: 0)
        _ = x86_invept(capabilities.eptVPID.supportsSingleContextINVEPT ? 1 : 2, &descriptor)
        x86_store_release64(&state.pointee.phase, Processors.Phase.vcpu.rawValue)

        let reason = vcpu.run(
            dispatcher: &context.pointee.dispatcher, memory: context.pointee.ram, checks: &context.pointee.checks)
        context.pointee.stop = reason
        if case .stopRequested = reason {
        } else {
            report(reason, cpu: cpu, vcpu: vcpu)
            // The whole guest stops: the boot CPU first, which stops the rest.
            x86_store_release64(&x86_boot_cpu().pointee.stop_request, cpu + 1)
            _ = LocalAPIC.current().send(.nmi, to: context.pointee.bootAPICID)
        }
        vcpu.release()
        x86_store_release64(&state.pointee.phase, Processors.Phase.parked.rawValue)
    }

    /// The guest stopped on this AP: one line with the CPU number, the
    /// reason and where.
    private static func report(_ reason: StopReason, cpu: UInt64, vcpu: VCPU) {
        let rip = vcpu.vmcs.read(VMCS.guestRIP)
        switch reason {
        case .guestPowerOff(let status):
            console.line("cpu \(cpu): guest: powered off (status \(status)): the guest stops on every CPU")
        case .hypervisorMemoryAccess(let fault), .unmappedAccess(let fault):
            console.line("cpu \(cpu): guest: stopped: \(reason.name) at GPA \(hex: fault.guestPhysicalAddress) (\(fault.access.name)), RIP \(hex: fault.guestRIP): the guest stops on every CPU")
        default:
            console.line("cpu \(cpu): guest: stopped: \(reason.name) at RIP \(hex: rip) (CS \(hex: vcpu.vmcs.read(VMCS.guestCSSelector)), exit reason \(hex: vcpu.vmcs.read(VMCS.exitReason))): the guest stops on every CPU")
        }
    }
}
