import Devices
import EPT
import Loader
import VMExit
import VMXCore
import X86

/// What every guest run on this CPU shares: the exit dispatcher (with its
/// statistics and the test-guest check tally), the MSR and I/O bitmaps, the
/// EPT. `makeVCPU` builds a launchable VCPU for one guest; `report` says
/// why a guest stopped.
struct GuestSession {
    var dispatcher: Dispatcher<CPUIDCache>
    var checks = FixedCheckRecorder()
    let bitmaps: ExitBitmaps
    let capabilities: VMXCapabilities
    let eptPointer: UInt64
    let ram: GuestRAM

    init(root: VMXRoot, platform: inout Platform, guestMemory: GuestPhysicalMemory, memory: IdentityMemory) {
        let acpi = platform.acpi
        // ACPI mode now, by the hypervisor: the guest then has no reason to
        // write SMI_CMD, and the I/O policy drops what it writes there.
        if let acpi {
            var ports = HardwarePorts()
            switch acpi.enableACPIMode(&ports) {
            case .alreadyACPI: break
            case .enabled: console.line("acpi: ACPI mode enabled (SMI_CMD \(hex(acpi.smiCommandPort ?? 0)), value \(hex(acpi.acpiEnableValue)))")
            case .noResponse(let polls): console.line("acpi: ACPI mode not entered: SCI_EN still 0 after \(polls) polls")
            }
        }
        let io = IOPolicy(
            debugPort: IOPolicy.defaultDebugPort, pm1aControlPort: acpi?.pm1aControlPort,
            s5SleepType: acpi?.slpTypA ?? 0, pm1bControlPort: acpi?.pm1bControlPort,
            s5SleepTypeB: acpi?.slpTypB ?? 0,
            resetRegister: acpi?.resetPort.map { IOResetRegister(port: $0.port, value: $0.value) },
            pm1aEventPorts: acpi?.pm1aEventPorts, pm1bEventPorts: acpi?.pm1bEventPorts,
            smiCommandPort: acpi?.smiCommandPort)
        // IA32_PAT passes through only when every VM entry and exit switches it.
        let patIsSwitched = root.capabilities.vmExit.allows([.savePAT, .loadPAT])
            && root.capabilities.vmEntry.allows(.loadPAT)
        var msrs = HardwareMSRs()
        let msr = MSRPolicy(host: HostMSRs(reading: &msrs, cpu: HardwareCPUID()), patIsSwitched: patIsSwitched)
        dispatcher = Dispatcher(
            cpuid: CPUIDCache(reading: HardwareCPUID()), io: io, msr: msr,
            nestedPageFaults: NestedPageFaultPolicy(hiddenMemory: guestMemory.hidden))
        bitmaps = ExitBitmaps(allocator: &platform.allocator, memory: memory, io: io, patIsSwitched: patIsSwitched)
        capabilities = root.capabilities
        eptPointer = guestMemory.pointer.rawValue
        ram = GuestRAM(map: platform.map, hidden: guestMemory.hidden)
    }

    /// A VCPU on a fresh VMCS for `guest` (fixed bits applied here), its
    /// controls made from this session's bitmaps and EPT.
    func makeVCPU(
        guest: VMCSGuestState, longModeGuest: Bool, hltExiting: Bool, vpid: UInt16,
        platform: inout Platform, memory: IdentityMemory
    ) throws(VMXError) -> VCPU {
        let policy = VMCSPolicy(
            hltExiting: hltExiting, msrBitmapAddress: bitmaps.msr, ioBitmapAAddress: bitmaps.ioA,
            ioBitmapBAddress: bitmaps.ioB, unrestrictedGuest: true, longModeGuest: longModeGuest,
            eptPointer: eptPointer, vpid: vpid)
        let controls = try VMCSControls.make(capabilities: capabilities, policy: policy)
        return try VCPU(
            capabilities: capabilities, allocator: &platform.allocator, memory: memory, controls: controls,
            guest: guest.applyingFixedBits(capabilities, unrestrictedGuest: true))
    }

    /// Runs `vcpu` until its guest stops, reports why, releases its VMCS.
    mutating func run(_ vcpu: inout VCPU) {
        dispatcher.msr.startGuest()
        dispatcher.io.startGuest()
        let reason = vcpu.run(dispatcher: &dispatcher, memory: ram, checks: &checks)
        report(reason, vcpu: vcpu)
        vcpu.release()
    }

    /// One line on why the guest stopped, and the state that explains it.
    func report(_ reason: StopReason, vcpu: VCPU) {
        let vmcs = vcpu.vmcs
        let rip = hex(vmcs.read(VMCS.guestRIP))
        switch reason {
        case .guestPowerOff(let status):
            console.line("guest: powered off (status \(status))")
        case .resetRequested(let port, let value):
            console.line("guest: reset requested (port \(hex(port)), value \(hex(value)))")
        case .hypervisorMemoryAccess(let fault):
            console.line("guest: stopped: \(reason.name) at GPA \(hex(fault.guestPhysicalAddress)) (\(fault.access.name)), RIP \(hex(fault.guestRIP)); the hypervisor is unaffected")
        case .unmappedAccess(let fault):
            console.line("guest: stopped: \(reason.name) at GPA \(hex(fault.guestPhysicalAddress)), RIP \(hex(fault.guestRIP))")
        default:
            console.line("guest: stopped: \(reason.name) at RIP \(rip)")
            dumpGuestState(vcpu)
        }
    }

    func dumpGuestState(_ vcpu: VCPU) {
        let v = vcpu.vmcs
        let r = vcpu.registers
        console.line("guest: exit reason \(hex(v.read(VMCS.exitReason))) qualification \(hex(v.read(VMCS.exitQualification)))")
        console.line("guest: RIP \(hex(v.read(VMCS.guestRIP))) RSP \(hex(v.read(VMCS.guestRSP))) RFLAGS \(hex(v.read(VMCS.guestRFLAGS))) CR0 \(hex(v.read(VMCS.guestCR0))) CR3 \(hex(v.read(VMCS.guestCR3))) CR4 \(hex(v.read(VMCS.guestCR4)))")
        console.line("guest: CS \(hex(v.read(VMCS.guestCSSelector))) base \(hex(v.read(VMCS.guestCSBase))) AR \(hex(v.read(VMCS.guestCSAccessRights))) EFER \(hex(v.read(VMCS.guestEFER)))")
        console.line("guest: RAX \(hex(r.rax)) RBX \(hex(r.rbx)) RCX \(hex(r.rcx)) RDX \(hex(r.rdx)) RSI \(hex(r.rsi)) RDI \(hex(r.rdi)) RBP \(hex(r.rbp))")
    }
}
