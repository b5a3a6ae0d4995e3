import Devices
import EPT
import Loader
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// What every guest run on this CPU shares: the exit dispatcher (with its
/// statistics and the test-guest check tally), the MSR and I/O bitmaps, the
/// EPT. `makeVCPU` builds a launchable VCPU for one guest; `report` says
/// why a guest stopped.
struct GuestSession: VirtualizationSession {
    var dispatcher: Dispatcher<CPUIDCache>
    var checks = FixedCheckRecorder()
    let bitmaps: ExitBitmaps
    let capabilities: VMXCapabilities
    let eptPointer: UInt64
    let ram: GuestRAM
    /// VMX-preemption timer ticks per 10 ms slice (nil: the CPU has no timer).
    let timerTicks: UInt32?

    init(root: VMXRoot, platform: inout Platform, guestMemory: GuestPhysicalMemory, memory: IdentityMemory) {
        // IA32_PAT passes through only when every VM entry and exit switches it.
        let patIsSwitched = root.capabilities.vmExit.allows([.savePAT, .loadPAT])
            && root.capabilities.vmEntry.allows(.loadPAT)
        let policies = GuestPolicies(platform: platform, hidden: guestMemory.hidden, patIsSwitched: patIsSwitched)
        dispatcher = policies.dispatcher
        bitmaps = ExitBitmaps(allocator: &platform.allocator, memory: memory, io: policies.io, patIsSwitched: patIsSwitched)
        capabilities = root.capabilities
        eptPointer = guestMemory.pointer.rawValue
        ram = GuestRAM(map: platform.map, hidden: guestMemory.hidden)
        timerTicks = LivenessTimer.ticksPerSlice(capabilities: root.capabilities)
        if timerTicks == nil {
            console.line("timer: no VMX-preemption timer: a guest spinning with interrupts off keeps the CPU")
        }
    }

    /// A VCPU on a fresh VMCS for `guest` (fixed bits applied here), its
    /// controls made from this session's bitmaps and EPT. HLT always exits
    /// (a halt with interrupts off is reported, one with them on idles in
    /// the HLT activity state); the preemption timer bounds every slice.
    /// XCR0 starts at its reset value 1 for every guest (the previous guest
    /// may have left AVX state enabled).
    func makeVCPU(
        guest: VMCSGuestState, longModeGuest: Bool, vpid: UInt16,
        platform: inout Platform, memory: IdentityMemory
    ) throws(GuestStartFailure) -> VCPU {
        do {
            return try makeVMXVCPU(guest: guest, longModeGuest: longModeGuest, vpid: vpid, platform: &platform, memory: memory)
        } catch {
            throw GuestStartFailure(message: error.message)
        }
    }

    private func makeVMXVCPU(
        guest: VMCSGuestState, longModeGuest: Bool, vpid: UInt16,
        platform: inout Platform, memory: IdentityMemory
    ) throws(VMXError) -> VCPU {
        if x86_read_cr4() & CR4.osxsave.rawValue != 0 { x86_xsetbv(0, XSETBVPolicy.resetXCR0) }
        let controls = try controls(longModeGuest: longModeGuest, vpid: vpid)
        var vcpu = try VCPU(
            capabilities: capabilities, allocator: &platform.allocator, memory: memory, controls: controls,
            guest: guest.applyingFixedBits(capabilities, unrestrictedGuest: true))
        vcpu.eptPointer = EPTPointer(rawValue: eptPointer)
        vcpu.ioBitmapA = bitmaps.ioA
        return vcpu
    }

    /// The parked APs as vCPUs of the guest `vcpu` starts, waiting for its
    /// STARTUP; the guest's writes to the local APIC trapped first
    /// (`LocalAPICTrap`: the EPT maps its page read-only, the dispatchers
    /// send its writes to the emulation), for the APs' vCPUs and `vcpu`.
    /// Needs the xAPIC (x2APIC is hidden from guests, but the firmware may
    /// have left the host's APIC in it).
    mutating func startApplicationProcessors(for vcpu: inout VCPU, platform: inout Platform, memory: IdentityMemory) -> Int {
        guard !Processors.started.isEmpty else { return 0 }
        let apic = LocalAPIC.current()
        guard !apic.isX2APIC else {
            console.line("cpu: the local APIC is in x2APIC mode (no xAPIC page to trap): the APs stay parked")
            return 0
        }
        let pointer = EPTPointer(rawValue: eptPointer)
        guard LocalAPICTrap.protect(true, page: apic.base, ept: pointer, capabilities: capabilities, allocator: &platform.allocator)
        else { return 0 }
        dispatcher.nestedPageFaults.localAPICPage = apic.base
        let session = self
        let launched = APGuest.launch(apicPage: apic.base, waitingIn: "in VMX root", platform: &platform) { ap, trap, platform in
            APGuest.prepare(ap, session: session, trap: trap, platform: &platform, memory: memory)
                .map { UInt64(UInt(bitPattern: $0)) }
        }
        guard let trap = launched else {
            stopTrappingLocalAPIC(platform: &platform)
            return 0
        }
        vcpu.localAPICTrap = trap
        return trap.directory.count
    }

    mutating func stopApplicationProcessors(platform: inout Platform) {
        APGuest.stopAll(APGuest.Context.self, checks: &checks)
        stopTrappingLocalAPIC(platform: &platform)
    }

    /// The local APIC page read/write again; its writes no longer emulated.
    private mutating func stopTrappingLocalAPIC(platform: inout Platform) {
        guard let page = dispatcher.nestedPageFaults.localAPICPage else { return }
        dispatcher.nestedPageFaults.localAPICPage = nil
        _ = LocalAPICTrap.protect(
            false, page: page, ept: EPTPointer(rawValue: eptPointer), capabilities: capabilities, allocator: &platform.allocator)
    }

    /// The VM-execution, exit and entry controls of this session's vCPUs
    /// (an application processor's too: `APGuest`).
    func controls(longModeGuest: Bool, vpid: UInt16) throws(VMXError) -> VMCSControls {
        let policy = VMCSPolicy(
            hltExiting: true, msrBitmapAddress: bitmaps.msr, ioBitmapAAddress: bitmaps.ioA,
            ioBitmapBAddress: bitmaps.ioB, unrestrictedGuest: true, longModeGuest: longModeGuest,
            eptPointer: eptPointer, vpid: vpid, preemptionTimerValue: timerTicks)
        return try VMCSControls.make(capabilities: capabilities, policy: policy)
    }

    /// Runs `vcpu` until its guest stops, reports why, releases its VMCS.
    mutating func run(_ vcpu: inout VCPU) {
        dispatcher.msr.startGuest()
        dispatcher.io.startGuest()
        let reason = vcpu.run(dispatcher: &dispatcher, memory: ram, checks: &checks)
        Timeline.noteGuestStop()
        report(reason, vcpu: vcpu)
        if vcpu.deliveredNMIs != 0 || vcpu.pendingNMIs != 0 {
            console.line("guest: NMIs delivered \(vcpu.deliveredNMIs), still pending \(vcpu.pendingNMIs)")
        }
        vcpu.release()
    }

    /// One line on why the guest stopped, and the state that explains it.
    func report(_ reason: StopReason, vcpu: VCPU) {
        guard !reportStop(reason, nestedTables: "EPT") else { return }
        console.line("guest: stopped: \(reason.name) at RIP \(hex: vcpu.vmcs.read(VMCS.guestRIP))")
        dumpGuestState(vcpu)
    }

    func dumpGuestState(_ vcpu: VCPU) {
        let v = vcpu.vmcs
        let r = vcpu.registers
        console.line("guest: exit reason \(hex: v.read(VMCS.exitReason)) qualification \(hex: v.read(VMCS.exitQualification))")
        console.line("guest: RIP \(hex: v.read(VMCS.guestRIP)) RSP \(hex: v.read(VMCS.guestRSP)) RFLAGS \(hex: v.read(VMCS.guestRFLAGS)) CR0 \(hex: v.read(VMCS.guestCR0)) CR3 \(hex: v.read(VMCS.guestCR3)) CR4 \(hex: v.read(VMCS.guestCR4))")
        console.line("guest: CS \(hex: v.read(VMCS.guestCSSelector)) base \(hex: v.read(VMCS.guestCSBase)) AR \(hex: v.read(VMCS.guestCSAccessRights)) EFER \(hex: v.read(VMCS.guestEFER))")
        console.line("guest: RAX \(hex: r.rax) RBX \(hex: r.rbx) RCX \(hex: r.rcx) RDX \(hex: r.rdx) RSI \(hex: r.rsi) RDI \(hex: r.rdi) RBP \(hex: r.rbp)")
    }
}

/// The vendor-neutral policies of one session of guests: the exit
/// dispatcher (CPUID, MSR, I/O, PCI configuration, nested page faults)
/// and the I/O policy the backends' intercept bitmaps are filled from.
struct GuestPolicies {
    var dispatcher: Dispatcher<CPUIDCache>
    let io: IOPolicy

    /// `patIsSwitched`: the hardware switches IA32_PAT between host and
    /// guest on every entry and exit (else the MSR policy emulates it).
    init(platform: Platform, hidden: PhysicalRange, patIsSwitched: Bool) {
        let acpi = platform.acpi
        // ACPI mode now, by the hypervisor: the guest then has no reason to
        // write SMI_CMD, and the I/O policy drops what it writes there.
        if let acpi {
            var ports = HardwarePorts()
            switch acpi.enableACPIMode(&ports) {
            case .alreadyACPI: break
            case .enabled: console.line("acpi: ACPI mode enabled (SMI_CMD \(hex: acpi.smiCommandPort ?? 0), value \(hex: acpi.acpiEnableValue))")
            case .noResponse(let polls): console.line("acpi: ACPI mode not entered: SCI_EN still 0 after \(polls) polls")
            }
        }
        io = IOPolicy(
            debugPort: IOPolicy.defaultDebugPort, pm1aControlPort: acpi?.pm1aControlPort,
            s5SleepType: acpi?.slpTypA ?? 0, pm1bControlPort: acpi?.pm1bControlPort,
            s5SleepTypeB: acpi?.slpTypB ?? 0,
            resetRegister: acpi?.resetPort.map { IOResetRegister(port: $0.port, value: $0.value) },
            pm1aEventPorts: acpi?.pm1aEventPorts, pm1bEventPorts: acpi?.pm1bEventPorts,
            smiCommandPort: acpi?.smiCommandPort)
        var msrs = HardwareMSRs()
        let msr = MSRPolicy(host: HostMSRs(reading: &msrs, cpu: HardwareCPUID()), patIsSwitched: patIsSwitched)
        dispatcher = Dispatcher(
            cpuid: CPUIDCache(reading: HardwareCPUID()), io: io, msr: msr,
            nestedPageFaults: NestedPageFaultPolicy(hiddenMemory: hidden))
        if let pm1a = acpi?.pm1aControlPort {
            dispatcher.pciConfig = PCIConfigPolicy(protecting: Self.protectedConfigRegisters(pm1aControlPort: pm1a))
        }
    }

    /// The PCI configuration registers that place and enable the ACPI PM
    /// block, read through configuration mechanism #1; printed. Leaves
    /// CONFIG_ADDRESS at 0, the value `PCIConfigPolicy` starts from.
    static func protectedConfigRegisters(pm1aControlPort: UInt16) -> PCIConfigPolicy.Registers {
        let found = PCIConfigPolicy.locatePowerManagementBlock(pm1aControlPort: pm1aControlPort) {
            bus, device, function, offset in
            x86_outl(PCIConfigPolicy.addressPort,
                     1 << 31 | UInt32(bus) << 16 | UInt32(device) << 11 | UInt32(function) << 8 | UInt32(offset & 0xFC))
            return x86_inl(PCIConfigPolicy.dataPort)
        }
        x86_outl(PCIConfigPolicy.addressPort, 0)
        guard !found.isEmpty else {
            console.line("pci: no configuration register holds the ACPI PM block (PM1a control \(hex: pm1aControlPort)); none filtered")
            return found
        }
        console.write("pxhv: pci: guest writes dropped at the ACPI PM block's configuration registers (bus:device.function+offset/bytes):")
        for register in found {
            console.write(" \(hex: register.function >> 8):\(hex: (register.function >> 3) & 0x1F).\(register.function & 7)+\(hex: register.offset)/\(register.length)")
        }
        console.write("\n")
        return found
    }
}

/// Why a guest could not start (the backend's error, as its one line).
struct GuestStartFailure: Error {
    let message: Message
}

/// What the guest runners (`TestGuests`, `LinuxGuest`) need of a vendor's
/// session: a vCPU for a start state, a run to the guest's stop, the
/// statistics. `GuestSession` is VT-x's, `SVMGuestSession` AMD-V's; both
/// take the start state as `VMCSGuestState` (the architectural registers:
/// SVM converts the segment attributes).
protocol VirtualizationSession {
    associatedtype CPU: VirtualCPU
    var dispatcher: Dispatcher<CPUIDCache> { get set }
    var checks: FixedCheckRecorder { get set }
    func makeVCPU(
        guest: VMCSGuestState, longModeGuest: Bool, vpid: UInt16, platform: inout Platform, memory: IdentityMemory
    ) throws(GuestStartFailure) -> CPU
    mutating func run(_ vcpu: inout CPU)
    /// For a guest that starts its own CPUs (its boot CPU `vcpu`): the
    /// parked APs become its vCPUs, waiting for its INIT and STARTUP; how
    /// many. Before its launch.
    mutating func startApplicationProcessors(for vcpu: inout CPU, platform: inout Platform, memory: IdentityMemory) -> Int
    /// After its stop: the APs' vCPUs stopped and parked, their exit
    /// statistics printed, their checks added to `checks`.
    mutating func stopApplicationProcessors(platform: inout Platform)
}

extension VirtualizationSession {
    /// The exit counters: the summary line and the counts by reason.
    func reportExits() {
        console.line(dispatcher.statistics.summaryLine)
        console.write("pxhv: ")
        dispatcher.statistics.writeReasonLine(to: &console)
        console.write("\n")
    }

    /// The line for the stops every backend reports alike (power-off, reset,
    /// memory the nested tables, "EPT" or "NPT", do not map); false for the
    /// rest, which the backend reports with its own state dump.
    func reportStop(_ reason: StopReason, nestedTables: StaticString) -> Bool {
        switch reason {
        case .guestPowerOff(let status):
            console.line("guest: powered off (status \(status))")
        case .resetRequested(let port, let value):
            console.line("guest: reset requested (port \(hex: port), value \(hex: value))")
        case .hypervisorMemoryAccess(let fault):
            console.line("guest: stopped: \(reason.name) at GPA \(hex: fault.guestPhysicalAddress) (\(fault.access.name)), RIP \(hex: fault.guestRIP); \(nestedTables) does not map it")
        case .unmappedAccess(let fault):
            console.line("guest: stopped: \(reason.name) at GPA \(hex: fault.guestPhysicalAddress), RIP \(hex: fault.guestRIP)")
        case .stopRequested(let cpu):
            console.line("guest: stopped: CPU \(cpu) stopped the guest")
        default:
            return false
        }
        return true
    }

    /// A guest that could not start: its checks are settled as for a
    /// stopped one (the tally stays whole).
    mutating func finishUnstartedGuest() {
        var sink = GuestConsole()
        var tally = checks
        dispatcher.finishGuest(console: &sink, checks: &tally)
        checks = tally
    }
}

/// A vCPU as the guest runners see it: the general registers to preset.
protocol VirtualCPU {
    var registers: GuestRegisters { get set }
}

/// A vendor's virtualization root on this CPU (VMX root operation with its
/// EPT, or SVM with its nested page tables): makes sessions.
protocol GuestBackend {
    associatedtype Session: VirtualizationSession
    func makeSession(platform: inout Platform, memory: IdentityMemory) -> Session
}

/// VT-x: VMX root operation and the EPT.
struct VMXBackend: GuestBackend {
    let root: VMXRoot
    let guestMemory: GuestPhysicalMemory

    func makeSession(platform: inout Platform, memory: IdentityMemory) -> GuestSession {
        GuestSession(root: root, platform: &platform, guestMemory: guestMemory, memory: memory)
    }
}

extension VCPU: VirtualCPU {}
