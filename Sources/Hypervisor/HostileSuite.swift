import Devices
import EPT
import Loader
import Primitives
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

    static func run(
        manifest: PayloadManifest, root: VMXRoot, platform: inout Platform, guestMemory: GuestPhysicalMemory,
        memory: IdentityMemory
    ) {
        guard let entry = manifest.entry(.hostileGuest) else { return }
        var session = GuestSession(root: root, platform: &platform, guestMemory: guestMemory, memory: memory)
        session.dispatcher.harnessEnabled = true
        console.line("hostile: starting the hostile guest (\(entry.size) bytes at \(hex: loadAddress))")
        memory.pointer(loadAddress).copyMemory(
            from: memory.pointer(manifest.loadAddress + entry.offset), byteCount: Int(entry.size))
        var tables = memory
        let paging = GuestPageTables(identityMapping: 4, at: pageTables, in: &tables)
        var vcpu: VCPU
        do {
            vcpu = try session.makeVCPU(
                guest: .longMode(rip: loadAddress, rsp: stackTop, cr3: paging.cr3), longModeGuest: true, vpid: 1,
                platform: &platform, memory: memory)
        } catch {
            console.error("hostile: the hostile guest cannot start: \(error.message)")
            return
        }
        let gdt = x86_sgdt(), idt = x86_sidt()
        var info = HostileHarness.HostInfo()
        info.hiddenStart = guestMemory.hidden.start
        info.hiddenEnd = guestMemory.hidden.end
        info.hostCR3 = x86_read_cr3()
        info.gdtBase = gdt.base
        info.idtBase = idt.base
        info.tssBase = x86_tss_base()
        info.vmxonRegion = root.vmxonRegion
        info.vmcsRegion = vcpu.vmcsRegion
        info.eptPML4 = guestMemory.pointer.pml4Address
        info.pm1aControlPort = UInt64(platform.acpi?.pm1aControlPort ?? 0)
        info.pm1bControlPort = UInt64(platform.acpi?.pm1bControlPort ?? 0)
        info.localAPICBase = x86_rdmsr(0x1B) & 0x000F_FFFF_FFFF_F000
        let slice = UInt64(session.timerTicks ?? 0) << UInt64(root.capabilities.miscellaneous.preemptionTimerRate)
        hostileHarness = HostileHarness(info: info, sliceTicks: slice)

        session.run(&vcpu)

        if var harness = hostileHarness {
            if harness.attack != nil {
                // The guest was stopped inside an attack (and could not be
                // resumed): the hypervisor still checks itself for the verdict.
                console.line("hostile: the guest was stopped inside an attack")
                _ = harness.end(statistics: session.dispatcher.statistics)
            }
            console.line(harness.summaryLine)
        }
        hostileHarness = nil
        session.reportExits()
    }
}
