import Devices
import EPT
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// AMD-V: the parked APs as vCPUs of a guest that starts its own CPUs, as
/// `APGuest` does under VT-x, with the same mailbox, kicks, stops and
/// reports (`APGuest.launch`, `APGuest.stopAll`).
///
/// SVM has no wait-for-SIPI activity state and no SIPI exit, so nothing of
/// the guest's INIT and STARTUP reaches a CPU: the local APIC page is
/// read-only in the nested page tables, the ICR writes fault and
/// `LocalAPICTrap` posts INIT and STARTUP to the target AP's mailbox with a
/// kick (an NMI). The AP waits for STARTUP in its park guest
/// (`SVMParkGuest`, halted with INIT intercepted; each NMI wakes it), and
/// a STARTUP starts a fresh vCPU in the state INIT leaves (`afterINIT`) at
/// the vector, in real mode, on its own VMCB (ASID cpu + 1) with the boot
/// CPU's nested page tables and permission maps. An INIT (the guest's, as a
/// mailbox word; a real one, as an INIT intercept) ends that vCPU: the AP
/// waits for the next STARTUP.
enum SVMAPGuest {
    /// One AP's vCPU, prepared by the boot CPU (in the pool, hidden from
    /// guests), read by the AP after its request word.
    struct Context: APVCPUContext {
        var dispatcher: Dispatcher<CPUIDCache>
        var checks: FixedCheckRecorder
        var ram: GuestRAM
        var vmcb: UInt64
        var layout: SVMGuestSession.VMCBLayout
        var hasNextRIPSave: Bool
        var physicalAddressWidth: Int
        var bootAPICID: UInt32
        var trap: LocalAPICTrap
        var stop: StopReason?

        var nestedTablesRoot: UInt64 { NestedCR3(rawValue: layout.nestedCR3).pml4Address }
    }

    /// The context of `ap` for `session`'s next guest (allocated once per
    /// AP, reused); nil when no pool page is left or the ASID would be the
    /// park guests'.
    static func prepare(
        _ ap: Processors.ApplicationProcessor, session: SVMGuestSession, trap: LocalAPICTrap,
        platform: inout Platform, memory: IdentityMemory
    ) -> UnsafeMutablePointer<Context>? {
        let asid = UInt32(truncatingIfNeeded: ap.cpuNumber + 1)
        guard asid < SVMParkGuest.asid(session.root.capabilities) else { return nil }
        let pages = (MemoryLayout<Context>.stride + 4095) / 4096
        var address = ap.state.pointee.vcpu_context
        if address == 0 {
            guard let contextPages = try? platform.allocator.allocate(pages: pages) else { return nil }
            memory.pointer(contextPages).initializeMemory(as: UInt8.self, repeating: 0, count: pages * Int(Page.size))
            address = contextPages
        }
        let context = UnsafeMutablePointer<Context>(bitPattern: UInt(address))!
        if context.pointee.vmcb == 0 {
            guard let page = platform.allocator.allocatePage() else { return nil }
            context.pointee.vmcb = page
        }
        context.pointee.dispatcher = APGuest.apDispatcher(from: session.dispatcher)
        context.pointee.checks = FixedCheckRecorder()
        context.pointee.ram = session.ram
        context.pointee.layout = session.layout(asid: asid)
        context.pointee.hasNextRIPSave = session.root.capabilities.features.contains(.nextRIPSave)
        context.pointee.physicalAddressWidth = Int(session.root.capabilities.physicalAddressBits)
        context.pointee.bootAPICID = trap.bootAPICID
        context.pointee.trap = trap
        context.pointee.stop = nil
        return context
    }

    /// On the AP (its park loop, request `runVCPU`): waits for the guest's
    /// STARTUP in `park`, runs a vCPU from it until an INIT (then waits
    /// again) or a stop; then parked again.
    static func run(_ state: UnsafeMutablePointer<x86_ap_state>, park: SVMParkGuest) {
        let context = UnsafeMutablePointer<Context>(bitPattern: UInt(state.pointee.vcpu_context))!
        let cpu = state.pointee.cpu_number
        x86_store_release64(&state.pointee.kicks, 0)
        if x86_read_cr4() & CR4.osxsave.rawValue != 0 { x86_xsetbv(0, XSETBVPolicy.resetXCR0) }
        // CPUID answers with this CPU's APIC IDs (the table is the boot CPU's).
        context.pointee.dispatcher.adoptProcessorIDs(of: HardwareCPUID())
        x86_store_release64(&state.pointee.phase, Processors.Phase.vcpu.rawValue)

        // What INIT keeps of the previous run: CR0.CD/NW and the PAT.
        var cacheControl: CR0 = [.cd, .nw]
        var pat = VMCSGuestState.defaultPAT
        // The host state VMRUN and #VMEXIT leave alone (GS base, TR, ...)
        // is saved in this CPU's own VMSAVE area, the park guest's.
        var layout = context.pointee.layout
        layout.hostState = park.hostState
        while let vector = waitForStartup(state, park: park) {
            let start = VMCSGuestState.afterINIT(keepingCacheControlOf: cacheControl, pat: pat)
                .startingAt(StartupIPI(vector: vector))
            var vcpu: SVMVCPU
            do {
                vcpu = try layout.makeVCPU(
                    at: context.pointee.vmcb, guest: start, hasNextRIPSave: context.pointee.hasNextRIPSave,
                    physicalAddressWidth: context.pointee.physicalAddressWidth)
            } catch {
                console.line("cpu \(cpu): the vCPU cannot start at STARTUP vector \(hex: vector): \(error.message)")
                context.pointee.stop = .entryFailure(reason: 0, qualification: 0)
                APGuest.stopGuest(from: cpu, bootAPICID: context.pointee.bootAPICID)
                break
            }
            vcpu.takeNMIs(in: park)
            vcpu.localAPICTrap = context.pointee.trap
            vcpu.registers.rdx = VCPU.processorSignature

            let reason = vcpu.run(dispatcher: &context.pointee.dispatcher, memory: context.pointee.ram, checks: &context.pointee.checks)
            cacheControl = CR0(rawValue: vcpu.vmcb.read(VMCB.cr0))
            pat = context.pointee.dispatcher.msr.pat
            if reason == .initSignal {
                // INIT: wait for the next STARTUP (one posted since is kept).
                APGuest.leaveGuest(state)
                continue
            }
            context.pointee.stop = reason
            if case .stopRequested = reason {
            } else {
                APGuest.report(reason, cpu: cpu, rip: vcpu.vmcb.read(VMCB.rip)) {
                    console.line("cpu \(cpu): guest: stopped: \(reason.name) at RIP \(hex: vcpu.vmcb.read(VMCB.rip)) (CS \(hex: vcpu.vmcb.read(VMCB.cs.selector)), exit code \(hex: vcpu.vmcb.read(VMCB.exitCode))): the guest stops on every CPU")
                }
                APGuest.stopGuest(from: cpu, bootAPICID: context.pointee.bootAPICID)
            }
            break
        }
        x86_store_release64(&state.pointee.phase, Processors.Phase.parked.rawValue)
    }

    /// Halts in the park guest until the guest's STARTUP for this AP (its
    /// vector) or a stop request (nil). The NMIs that wake it are kicks, or
    /// NMIs for a CPU waiting for STARTUP, which takes none: dropped.
    static func waitForStartup(_ state: UnsafeMutablePointer<x86_ap_state>, park: SVMParkGuest) -> UInt8? {
        while true {
            if x86_stop_request() != 0 { return nil }
            let old = x86_load_acquire64(&state.pointee.startup_mailbox)
            if let (next, vector) = StartupMailbox(rawValue: old).takingStartup() {
                if x86_compare_exchange64(&state.pointee.startup_mailbox, old, next.rawValue) { return vector }
                continue
            }
            switch park.run(from: .halt) {
            case .nmis(let count): SVMParkGuest.count(count, on: state)
            case .initSignal: _ = x86_fetch_add64(&state.pointee.init_exits, 1)
            case .fault(let code):
                console.line("cpu \(state.pointee.cpu_number): park guest stopped (exit code \(hex: code))")
                return nil
            }
        }
    }
}
