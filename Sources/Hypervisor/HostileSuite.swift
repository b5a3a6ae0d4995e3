import Devices
import EPT
import Loader
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// Runs the hostile-guest suite of the payload (Guest/hostile) under the
/// attack harness (`HostileHarness`), then prints the summary and the exit
/// statistics. The guest starts like the 64-bit test guest
/// (Guest/README.md).
enum HostileSuite {
    static let loadAddress: UInt64 = 0x10_0000
    static let stackTop: UInt64 = 0x1F_0000
    static let pageTables: UInt64 = 0x7_0000

    static func run<Backend: HostileSuiteBackend>(
        manifest: PayloadManifest, backend: Backend, platform: inout Platform, memory: IdentityMemory
    ) {
        guard let entry = manifest.entry(.hostileGuest) else { return }
        var session = backend.makeSession(platform: &platform, memory: memory)
        session.dispatcher.harnessEnabled = true
        console.line("hostile: starting the hostile guest (\(entry.size) bytes at \(hex: loadAddress))")
        memory.pointer(loadAddress).copyMemory(
            from: memory.pointer(manifest.loadAddress + entry.offset), byteCount: Int(entry.size))
        var tables = memory
        let paging = GuestPageTables(identityMapping: 4, at: pageTables, in: &tables)
        var vcpu: Backend.Session.CPU
        do {
            vcpu = try session.makeVCPU(
                guest: .longMode(rip: loadAddress, rsp: stackTop, cr3: paging.cr3), longModeGuest: true, vpid: 1,
                platform: &platform, memory: memory)
        } catch {
            console.error("hostile: the hostile guest cannot start: \(error.message)")
            return
        }
        // The parked APs become this guest's vCPUs, waiting for its STARTUP
        // (VT-x; AMD-V keeps them parked for now): its INIT/SIPI attacks
        // start vCPUs, and the harness probes each AP after every attack.
        _ = session.startApplicationProcessors(for: &vcpu, platform: &platform, memory: memory)
        let gdt = x86_sgdt(), idt = x86_sidt()
        var info = HostileHarness.HostInfo()
        info.hiddenStart = backend.hidden.start
        info.hiddenEnd = backend.hidden.end
        info.hostCR3 = x86_read_cr3()
        info.gdtBase = gdt.base
        info.idtBase = idt.base
        info.tssBase = x86_tss_base()
        info.pm1aControlPort = UInt64(platform.acpi?.pm1aControlPort ?? 0)
        info.pm1bControlPort = UInt64(platform.acpi?.pm1bControlPort ?? 0)
        info.localAPICBase = x86_rdmsr(0x1B) & 0x000F_FFFF_FFFF_F000
        let slice = backend.describeHost(&info, session: session, vcpu: vcpu)
        hostileHarness = HostileHarness(info: info, sliceTicks: slice)

        session.run(&vcpu)

        if var harness = hostileHarness {
            if harness.attack != nil {
                // The guest was stopped inside an attack (and could not be
                // resumed): the hypervisor still checks itself for the verdict.
                console.line("hostile: the guest was stopped inside an attack")
                _ = harness.end(statistics: session.dispatcher.statistics)
            }
            hostileHarness = harness
        }
        // The APs' vCPUs stopped and parked again, each one's exits printed.
        session.stopApplicationProcessors(platform: &platform)
        if let harness = hostileHarness { console.line(harness.summaryLine) }
        hostileHarness = nil
        session.reportExits()
    }
}

/// A backend the hostile-guest suite runs on: what host info (hypercall 8)
/// says of its own structures.
protocol HostileSuiteBackend: GuestBackend {
    /// The hypervisor's memory the guest must never reach.
    var hidden: PhysicalRange { get }
    /// Fills the vendor's slots of `info` (the VMXON region or host save
    /// area, the VMCS or VMCB of `vcpu`, the EPT or NPT root); returns the
    /// preemption-timer slice in TSC ticks (0: no timer).
    func describeHost(_ info: inout HostileHarness.HostInfo, session: Session, vcpu: Session.CPU) -> UInt64
}

extension VMXBackend: HostileSuiteBackend {
    var hidden: PhysicalRange { guestMemory.hidden }

    func describeHost(_ info: inout HostileHarness.HostInfo, session: GuestSession, vcpu: VCPU) -> UInt64 {
        info.vmxonRegion = root.vmxonRegion
        info.vmcsRegion = vcpu.vmcsRegion
        info.eptPML4 = guestMemory.pointer.pml4Address
        return UInt64(session.timerTicks ?? 0) << UInt64(root.capabilities.miscellaneous.preemptionTimerRate)
    }
}

extension SVMBackend: HostileSuiteBackend {
    var hidden: PhysicalRange { guestMemory.hidden }

    /// The host save area (VM_HSAVE_PA) in the VMXON slot, the VMCB in the
    /// VMCS slot, N_CR3 in the EPT slot; no preemption timer.
    func describeHost(_ info: inout HostileHarness.HostInfo, session: SVMGuestSession, vcpu: SVMVCPU) -> UInt64 {
        info.vmxonRegion = root.hostSaveArea
        info.vmcsRegion = vcpu.vmcbAddress
        info.eptPML4 = guestMemory.nestedCR3
        return 0
    }
}
