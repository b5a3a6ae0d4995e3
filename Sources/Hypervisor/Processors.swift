import BIOSServices
import Devices
import EPT
import Loader
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// The other CPUs: started at boot, brought into VMX root operation and
/// parked there, so that nothing a guest sends them (INIT, SIPI) starts
/// code outside VMX.
///
/// Intel SDM Vol. 3C, "Entering VMX Operation" (24.7 in rev. 84): INIT
/// signals are blocked while a logical processor is in VMX root operation,
/// and a STARTUP IPI does nothing unless the CPU is in wait-for-SIPI state.
/// So each AP enters VMX root operation with its own VMXON region and then
/// halts with interrupts off (`cli; hlt` in a loop: under Bochs, which runs
/// all CPUs on one thread, a spinning AP would halve the guest's speed).
///
/// Everything an AP uses is in the hypervisor's pool (hidden from guests):
/// its state page (phase, NMI count, GDT, TSS, IDT), its stack, four IST
/// stacks, its VMXON region. The real-mode trampoline is one page below
/// 1 MiB, reserved in the guests' e820 and unmapped in their EPT. A guest
/// that starts its own CPUs (Linux, the SMP test guest, the hostile suite)
/// gets the parked APs as vCPUs (`APGuest`; under AMD-V `SVMAPGuest`):
/// its state page, stacks and VMX root operation (under AMD-V its park
/// guest) are what a vCPU's host side needs; it parks again after.
enum Processors {
    /// Where APs start (STARTUP vector 0x6F): free RAM below the guest boot
    /// data (LinuxBootLayout starts at 0x70000) and above stage 2's page
    /// tables (which end by 0x60000).
    /// The APs' start page (`Platform.trampolinePage`), set by `startAll`
    /// (empty before).
    nonisolated(unsafe) static var trampolinePage = PhysicalRange(start: 0, length: 0)

    /// How long an AP has to reach `parked` once started (PIT time).
    static let answerTimeoutMilliseconds = 200
    /// The exit loop runs here too when the AP is a vCPU (`APGuest`).
    static let stackPages = 8
    static let istStackPages = 2

    /// Where an AP is on its way to being parked (x86_ap_state.phase).
    enum Phase: UInt64 {
        case notStarted = 0
        /// It ran the trampoline's first instruction (seen in the trampoline page).
        case started = 1
        case longMode = 2
        case vmxRoot = 3
        case parked = 4
        /// VMXON or a check before it failed; the AP printed why.
        case vmxFailed = 5
        /// A CPU exception; the AP printed a panic report.
        case faulted = 6
        /// Running a guest's vCPU (`APGuest`); parked again after.
        case vcpu = 7

        var name: StaticString {
            switch self {
            case .notStarted: "not started"
            case .started: "started, not in long mode"
            case .longMode: "in long mode, not in VMX root"
            case .vmxRoot: "in VMX root, not parked"
            case .parked: "parked"
            case .vmxFailed: "VMXON failed"
            case .faulted: "CPU exception"
            case .vcpu: "running a vCPU"
            }
        }
    }

    /// What the boot CPU asks of a parked AP (x86_ap_state.request), with
    /// an NMI to end its HLT.
    enum Request: UInt64 {
        case none = 0
        /// Run the vCPU its `vcpu_context` describes (`APGuest.run`).
        case runVCPU = 1
        /// AMD-V, at boot only: take the INIT the park guest holds latched
        /// (the AP resets and waits for a STARTUP; `releaseLatchedINIT`).
        case takeINIT = 2
    }

    /// One AP pxHV started: its APIC ID and its state page.
    struct ApplicationProcessor {
        let apicID: UInt32
        let state: UnsafeMutablePointer<x86_ap_state>
        let stackTop: UInt64
        var cpuNumber: UInt64 { state.pointee.cpu_number }

        var phase: Phase {
            Phase(rawValue: x86_load_acquire64(&state.pointee.phase)) ?? .faulted
        }
        var nmiCount: UInt64 { x86_load_acquire64(&state.pointee.nmi_count) }
    }

    /// Every AP that answered, in MADT order (BSP-only; set once at boot).
    nonisolated(unsafe) static var started: [ApplicationProcessor] = []
    /// The pages below 1 MiB taken for the APs (also in `Platform.lowHidden`),
    /// for the hostile harness's host info.
    nonisolated(unsafe) static var hiddenLowPages: [PhysicalRange] = []

    /// Starts every other enabled CPU the MADT lists and parks it in VMX
    /// root operation; reserves the trampoline page in `platform.map` and
    /// adds it to `platform.lowHidden`. Call on the BSP after its VMXON and
    /// before the guests' EPT is built. Prints one line for the parked APs
    /// and one for each AP that did not make it; the boot goes on either way.
    static func startAll(platform: inout Platform, memory: IdentityMemory) {
        let madt: MADT
        do {
            let root = try RSDP.locate(in: memory).rootTable(in: memory)
            madt = try MADT.find(in: root, memory: memory)
        } catch {
            console.line("cpu: no other CPU started: \(error.message)")
            return
        }
        let apic = LocalAPIC.current()
        let bsp = apic.id
        let processors = madt.processors(in: memory)
        var others: [MADTProcessor] = []
        for processor in processors where processor.isUsable && processor.apicID != bsp {
            others.append(processor)
        }
        console.line(
            "cpu: MADT lists \(processors.count) processor\(processors.count == 1 ? "" : "s"), \(others.count + 1) enabled; BSP APIC ID \(bsp), \(apic.isX2APIC ? "x2APIC" : "xAPIC at \(hex: apic.base)")"
        )
        guard !others.isEmpty else { return }

        // The trampoline loads CR3 in 32-bit mode: the tables must be below
        // 4 GiB (the pool is). CR4.PCIDE is still 0 there, so only the
        // table address is taken (no PCID, PCD/PWT 0).
        guard x86_read_cr3() >> 32 == 0 else {
            console.line("cpu: the host page tables at \(hex: x86_read_cr3()) are above 4 GiB: no other CPU started")
            return
        }
        trampolinePage = platform.trampolinePage
        guard platform.map.contains(trampolinePage, type: .usable) else {
            console.line("cpu: the trampoline page \(hex: trampolinePage.start) is not usable RAM: no other CPU started")
            return
        }
        guard let reserved = try? platform.map.reserving(trampolinePage),
            (try? platform.lowHidden.append(trampolinePage)) != nil
        else {
            console.line("cpu: cannot reserve the trampoline page: no other CPU started")
            return
        }
        platform.map = reserved
        hiddenLowPages.append(trampolinePage)
        let trampoline = memory.pointer(trampolinePage.start)
        trampoline.initializeMemory(as: UInt8.self, repeating: 0, count: Int(Page.size))
        trampoline.copyMemory(
            from: UnsafeRawPointer(bitPattern: UInt(x86_ap_trampoline_address()))!,
            byteCount: Int(x86_ap_trampoline_size()))
        if hypervisorBackend == .svm { SVMParkGuest.install(at: trampoline, pageAddress: trampolinePage.start) }

        var failures = 0
        var cpuNumber: UInt64 = 1
        for processor in others {
            guard apic.canAddress(processor.apicID) else {
                console.line("cpu: APIC ID \(processor.apicID) did not start (needs x2APIC mode; the BSP is in xAPIC mode)")
                failures += 1
                continue
            }
            guard let ap = prepare(processor, cpuNumber: cpuNumber, allocator: &platform.allocator, memory: memory) else {
                console.line("cpu: APIC ID \(processor.apicID) did not start (no pool memory below 4 GiB for it)")
                failures += 1
                continue
            }
            let phase = start(ap, apic: apic, trampoline: trampoline)
            if phase == .parked {
                started.append(ap)
                cpuNumber += 1
            } else {
                // INIT stops it where it is (unless it reached VMX root late,
                // where INIT is blocked), so that it cannot run on with the
                // trampoline's parameters for the next AP. It then waits for
                // a SIPI: not contained (a guest's SIPI would start it).
                apic.send(.initAssert, to: ap.apicID)
                console.line("cpu: APIC ID \(processor.apicID) did not start (phase \(phase.name)); held in INIT, not contained")
                failures += 1
            }
        }
        // The trampoline is not needed once every AP has left it. What stays
        // in the (hidden) page is a halt loop: a STARTUP IPI can only start
        // a CPU in wait-for-SIPI, which a parked AP never is; if one ever
        // were, it would halt here instead of running stale code.
        // (Under AMD-V the parked APs run the park guest's code at
        // SVM_PARK_OFFSET: it stays.)
        trampoline.initializeMemory(as: UInt8.self, repeating: 0, count: Int(SVM_PARK_OFFSET))
        trampoline.copyMemory(from: Self.haltLoop, byteCount: 4)

        let parkedIn: StaticString = hypervisorBackend == .svm ? "parked in an SVM guest (INIT intercepted)" : "parked in VMX root"
        var line: Message = "cpu: \(started.count) application processor\(started.count == 1 ? "" : "s") \(parkedIn) (APIC IDs "
        if started.isEmpty { line.append("none") }
        for (index, ap) in started.enumerated() { line.append("\(index == 0 ? "" : ", ")\(ap.apicID)") }
        line.append(")")
        if failures > 0 { line.append("; \(failures) did not start") }
        console.line(line)
        if !started.isEmpty {
            let result = verifyParkedProcessors()
            let parkedWhere: StaticString = hypervisorBackend == .svm ? "in their SVM guests" : "in VMX root"
            console.line("cpu: parked APs answered an NMI \(parkedWhere): \(result.checked - result.failed) of \(result.checked)")
            let attacked = sendINITAndSIPIToParked(apic: apic)
            console.line(
                "cpu: INIT and STARTUP sent to the parked APs as a guest would: \(attacked.checked - attacked.failed) of \(attacked.checked) still parked \(parkedWhere)"
            )
            // A CPU that leaves its parking under INIT would run whatever a
            // guest's STARTUP points it at, outside the hypervisor: no guest
            // may run on this machine. (Seen under QEMU 7.2's TCG with AMD-V,
            // which takes INIT whatever GIF and the INIT intercept say; real
            // AMD CPUs and Bochs hold it.)
            if attacked.failed != 0 {
                fatal("cpu: \(attacked.failed) of \(attacked.checked) parked APs left their parking under INIT and STARTUP: a guest could start code outside the hypervisor (this CPU or emulator does not hold INIT for a parked CPU; boot with one CPU)")
            }
        }
    }

    /// `cli; hlt; jmp $-1`: what the trampoline page holds after bring-up.
    private static let haltLoop: [UInt8] = [0xFA, 0xF4, 0xEB, 0xFD]

    /// Does to every parked AP what a guest with the local APIC could:
    /// INIT, then STARTUP at the trampoline page; then checks with
    /// `verifyParkedProcessors` that each is still parked in VMX root (INIT
    /// blocked, STARTUP ignored). Proves the containment at every boot.
    static func sendINITAndSIPIToParked(apic: LocalAPIC) -> (checked: Int, failed: Int) {
        for ap in started {
            apic.send(.initAssert, to: ap.apicID)
        }
        PITDelay.wait(microseconds: 10_000)
        for ap in started {
            apic.send(.startup(page: trampolinePage.start), to: ap.apicID)
        }
        PITDelay.wait(microseconds: 1_000)
        if hypervisorBackend == .svm { releaseLatchedINITs(apic: apic) }
        return verifyParkedProcessors()
    }

    /// AMD-V: an AP that holds the INIT latched (AMD APM Vol. 2: INIT is
    /// held pending while GIF = 0 and exits again at every VMRUN while it is
    /// intercepted; Bochs does so too) is contained but lost: it answers no
    /// NMI, its park guest exits on INIT for ever (counted in `init_exits`).
    /// At boot, before any guest runs, such an AP takes the INIT (STGI in
    /// its loop), resets into wait-for-SIPI, and is started again as at
    /// boot, from a fresh trampoline; then parked as before (the NMI probe
    /// that follows checks it). One line each.
    private static func releaseLatchedINITs(apic: LocalAPIC) {
        let trampoline = UnsafeMutableRawPointer(bitPattern: UInt(trampolinePage.start))!
        for ap in started where ap.phase == .parked && x86_load_acquire64(&ap.state.pointee.init_exits) != 0 {
            x86_store_release64(&ap.state.pointee.request, Request.takeINIT.rawValue)
            guard APGuest.waitWhile(ap, inPhase: .parked) else { continue }
            trampoline.copyMemory(
                from: UnsafeRawPointer(bitPattern: UInt(x86_ap_trampoline_address()))!,
                byteCount: Int(x86_ap_trampoline_size()))
            x86_store_release64(&ap.state.pointee.init_exits, 0)
            let phase = start(ap, apic: apic, trampoline: trampoline)
            let before = ap.nmiCount
            _ = apic.send(.nmi, to: ap.apicID)
            let answered = phase == .parked && APGuest.waitWhile(ap, nmiCount: before)
            console.line("cpu: APIC ID \(ap.apicID) held the INIT latched in its park guest (contained); it took it at boot and was started again: \(answered ? "parked" : "not parked (phase \(phase.name))")")
        }
        trampoline.initializeMemory(as: UInt8.self, repeating: 0, count: Int(SVM_PARK_OFFSET))
        trampoline.copyMemory(from: Self.haltLoop, byteCount: 4)
    }

    /// Allocates and fills an AP's state page, stacks and VMXON region.
    private static func prepare(
        _ processor: MADTProcessor, cpuNumber: UInt64, allocator: inout FrameAllocator, memory: IdentityMemory
    ) -> ApplicationProcessor? {
        let below4GiB: UInt64 = 1 << 32
        guard let statePage = try? allocator.allocate(pages: 1),
            let stack = try? allocator.allocate(pages: stackPages),
            let ist = try? allocator.allocate(pages: 4 * istStackPages),
            let vmxon = try? allocator.allocate(pages: 4),
            statePage < below4GiB, stack + UInt64(stackPages) * Page.size <= below4GiB
        else { return nil }
        memory.pointer(statePage).initializeMemory(as: UInt8.self, repeating: 0, count: Int(Page.size))
        let state = memory.pointer(statePage).bindMemory(to: x86_ap_state.self, capacity: 1)
        state.pointee.cpu_number = cpuNumber
        state.pointee.apic_id = UInt64(processor.apicID)
        state.pointee.vmxon_region = vmxon
        let istSize = UInt64(istStackPages) * Page.size
        state.pointee.ist_top = (ist + istSize, ist + 2 * istSize, ist + 3 * istSize, ist + 4 * istSize)
        return ApplicationProcessor(
            apicID: processor.apicID, state: state, stackTop: stack + UInt64(stackPages) * Page.size)
    }

    /// INIT, 10 ms, STARTUP, 200 µs, a second STARTUP if the first did not
    /// take, then up to `answerTimeoutMilliseconds` for the AP to park.
    ///
    /// Intel SDM Vol. 3A, "MP Initialization Example" ("Typical BSP
    /// Initialization Sequence", 9.4.4.1 in rev. 84).
    private static func start(_ ap: ApplicationProcessor, apic: LocalAPIC, trampoline: UnsafeMutableRawPointer) -> Phase {
        let efer = (x86_rdmsr(MSR.efer.rawValue) & ~EFER.lma.rawValue) | EFER.lme.rawValue
        func put32(_ value: UInt64, at offset: Int32) {
            trampoline.storeBytes(of: UInt32(truncatingIfNeeded: value), toByteOffset: Int(offset), as: UInt32.self)
        }
        put32(x86_read_cr3() & ~0xFFF, at: AP_TRAMPOLINE_CR3)
        trampoline.storeBytes(of: efer, toByteOffset: Int(AP_TRAMPOLINE_EFER), as: UInt64.self)
        put32(ap.stackTop, at: AP_TRAMPOLINE_STACK)
        put32(UInt64(UInt(bitPattern: ap.state)), at: AP_TRAMPOLINE_STATE)
        put32(x86_read_cr0(), at: AP_TRAMPOLINE_CR0)
        put32(CR4.pae.rawValue, at: AP_TRAMPOLINE_CR4)
        put32(0, at: AP_TRAMPOLINE_STARTED)
        put32(x86_ap_entry64_address(), at: AP_TRAMPOLINE_FAR64)

        let startedFlag = trampoline.advanced(by: Int(AP_TRAMPOLINE_STARTED)).assumingMemoryBound(to: UInt32.self)
        apic.send(.initAssert, to: ap.apicID)
        PITDelay.wait(microseconds: 10_000)
        apic.send(.startup(page: trampolinePage.start), to: ap.apicID)
        PITDelay.wait(microseconds: 200)
        if x86_load_acquire32(startedFlag) == 0 {
            apic.send(.startup(page: trampolinePage.start), to: ap.apicID)
            PITDelay.wait(microseconds: 200)
        }
        var phase = ap.phase
        for _ in 0..<answerTimeoutMilliseconds {
            phase = ap.phase
            if phase == .parked || phase == .vmxFailed || phase == .faulted { break }
            PITDelay.wait(microseconds: 1000)
        }
        phase = ap.phase
        if phase == .notStarted && x86_load_acquire32(startedFlag) != 0 { return .started }
        return phase
    }

    /// Writes the guest's copy of the ACPI tables into `range` (guest
    /// memory the guest's e820 marks as ACPI): the firmware's tables with a
    /// MADT that lists this CPU, the BSP, and with `keepingParkedAPs` every
    /// AP parked now (a guest whose INIT and STARTUP start them as vCPUs:
    /// `APGuest`); without it the guest runs on the BSP alone and the others
    /// stay parked. Returns the copy's RSDP address for
    /// `boot_params.acpi_rsdp_addr`, or nil (the guest then finds the
    /// firmware's tables and every CPU in them; their INIT/SIPI start nothing).
    static func writeGuestACPITables(at range: PhysicalRange, keepingParkedAPs: Bool, memory: IdentityMemory) -> UInt64? {
        var target = memory
        let bsp = LocalAPIC.current().id
        do {
            let rsdp = try RSDP.locate(in: memory)
            let copy = try GuestACPITables.build(
                from: rsdp, at: range.start, capacity: range.length,
                keeping: { id in
                    id == bsp || (keepingParkedAPs && started.contains { $0.apicID == id && $0.phase == .parked })
                }, in: &target)
            console.line(
                "acpi: guest tables at \(hex: range.start): RSDP \(hex: copy.rsdpAddress), MADT \(hex: copy.madtAddress) with \(copy.keptProcessors) processor\(copy.keptProcessors == 1 ? "" : "s") (\(copy.removedProcessors) removed)"
            )
            return copy.rsdpAddress
        } catch {
            console.line("acpi: no guest copy of the tables (\(error.message)); the guest reads the firmware's")
            return nil
        }
    }

    /// Checks that every AP is still parked (in VMX root operation, or in
    /// its SVM parking guest): sends it an NMI through the local APIC and
    /// waits (a bounded spin, independent of any timer a guest may have
    /// reprogrammed) for its NMI count to advance with its phase still
    /// `parked` (`probeAll` with no guest's vCPUs allowed).
    ///
    /// What a pass proves: the AP took the NMI through pxHV's IDT and its
    /// handler executed VMPTRST before counting, which raises #UD outside
    /// VMX operation (the AP would report a panic instead) and causes a VM
    /// exit in VMX non-root operation; so the AP is in VMX root operation,
    /// running pxHV's code, where INIT is blocked. (The hostile-guest
    /// harness, whose guest may have vCPUs, probes with `probeAll(guestRoot:)`.)
    static func verifyParkedProcessors() -> (checked: Int, failed: Int) {
        probeAll(guestRoot: nil)
    }
}

/// The first Swift code on an AP, from `x86_ap_entry64` on the AP's stack,
/// interrupts off, on the BSP's page tables. Loads the AP's own GDT/TSS/IDT,
/// enters VMX root operation with the VMXON region the BSP allocated, and
/// parks. It allocates nothing and prints only on failure (the BSP is
/// waiting for it, not printing).
@_cdecl("hv_ap_main")
func hvAPMain(_ state: UnsafeMutablePointer<x86_ap_state>) {
    x86_ap_install_descriptor_tables(state)
    x86_store_release64(&state.pointee.phase, Processors.Phase.longMode.rawValue)
    if hypervisorBackend == .svm { parkInGuest(state) }
    let vmxon = state.pointee.vmxon_region
    do {
        _ = try VMXRoot.enter(vmxonRegion: vmxon, memory: IdentityMemory())
    } catch {
        console.line("cpu: APIC ID \(state.pointee.apic_id) cannot enter VMX root operation: \(error.message)")
        x86_store_release64(&state.pointee.phase, Processors.Phase.vmxFailed.rawValue)
        x86_halt_forever()
    }
    x86_store_release64(&state.pointee.phase, Processors.Phase.vmxRoot.rawValue)
    x86_store_release64(&state.pointee.phase, Processors.Phase.parked.rawValue)
    Processors.parkLoop(state)
}

extension Processors {
    /// A parked AP: HLT with interrupts off until an NMI, then its request
    /// word. An NMI between the check and the HLT skips that HLT
    /// (`x86_ap_halt_unless_nmi`); the boot CPU still sends NMIs until the
    /// AP answers (`APGuest.launch`).
    static func parkLoop(_ state: UnsafeMutablePointer<x86_ap_state>) -> Never {
        while true {
            _ = x86_take_root_nmis()
            if x86_load_acquire64(&state.pointee.request) == Request.runVCPU.rawValue {
                x86_store_release64(&state.pointee.request, Request.none.rawValue)
                APGuest.run(state)
            }
            x86_ap_halt_unless_nmi()
        }
    }
}

/// AMD-V: the AP parks inside a guest of its own (`SVMParkGuest`), halted
/// in real mode with INIT intercepted: a guest's INIT reaches it as a
/// #VMEXIT and is dropped, a STARTUP IPI does nothing to a CPU that is not
/// waiting for one, and an NMI (the boot CPU's probe or request) is taken
/// by the park guest and reported. The four pages `prepare` allocated: host
/// save area (VM_HSAVE_PA), the park guest's VMCB, the host's VMSAVE area,
/// the park guest's stack. A request to run a vCPU (`SVMAPGuest`) returns
/// here when the vCPU stops.
///
/// AMD APM Vol. 2, "INIT Support" (intercept), "Global Interrupt Flag" (the
/// host runs with GIF clear, INIT held pending).
private func parkInGuest(_ state: UnsafeMutablePointer<x86_ap_state>) -> Never {
    let pages = state.pointee.vmxon_region
    var msrs = HardwareMSRs()
    msrs.write(.efer, msrs.read(.efer) | EFER.svme.rawValue)
    msrs.write(.vmHostSaveAreaPA, pages)
    for offset in 0..<3 { UnsafeMutablePointer<UInt64>(bitPattern: UInt(pages + UInt64(offset) * 0x1000))!.initialize(repeating: 0, count: 512) }
    let park = SVMParkGuest(
        vmcb: pages + 0x1000, stack: pages + 0x3000, hostState: pages + 0x2000,
        asid: SVMParkGuest.asid(SVMCapabilities.read(cpuid: HardwareCPUID(), msrs: msrs)))
    x86_store_release64(&state.pointee.phase, Processors.Phase.vmxRoot.rawValue)
    x86_store_release64(&state.pointee.phase, Processors.Phase.parked.rawValue)
    while true {
        switch park.run(from: .halt) {
        case .nmis(let count):
            SVMParkGuest.count(count, on: state)
            if x86_load_acquire64(&state.pointee.request) == Processors.Request.runVCPU.rawValue {
                x86_store_release64(&state.pointee.request, Processors.Request.none.rawValue)
                SVMAPGuest.run(state, park: park)
            }
        case .initSignal:
            _ = x86_fetch_add64(&state.pointee.init_exits, 1)
            if x86_load_acquire64(&state.pointee.request) == Processors.Request.takeINIT.rawValue {
                x86_store_release64(&state.pointee.request, Processors.Request.none.rawValue)
                x86_store_release64(&state.pointee.phase, Processors.Phase.notStarted.rawValue)
                x86_stgi()  // the latched INIT resets this CPU here
                x86_halt_forever()
            }
        case .fault(let code):
            console.line("cpu: APIC ID \(state.pointee.apic_id): parked guest stopped (exit code \(hex: code))")
            x86_store_release64(&state.pointee.phase, Processors.Phase.faulted.rawValue)
            x86_halt_forever()
        }
    }
}

/// A CPU exception on an AP (any vector but NMI): report it with the CPU
/// number and stop this AP; the BSP and the guest go on.
@_cdecl("hv_ap_exception")
func hvAPException(_ frame: UnsafeMutablePointer<x86_exception_frame>) {
    let state = UnsafeMutablePointer<x86_ap_state>(bitPattern: UInt(x86_rdmsr(MSR.gsBase.rawValue)))
    let f = frame.pointee
    let cpu = state?.pointee.cpu_number ?? 0
    let apicID = state?.pointee.apic_id ?? 0
    console.error(
        "panic: CPU \(cpu) (APIC ID \(apicID)): CPU exception \(f.vector) error code \(hex: f.error_code) at RIP \(hex: f.rip) RSP \(hex: f.rsp) CR2 \(hex: x86_read_cr2())"
    )
    if let state { x86_store_release64(&state.pointee.phase, Processors.Phase.faulted.rawValue) }
    x86_halt_forever()
}
