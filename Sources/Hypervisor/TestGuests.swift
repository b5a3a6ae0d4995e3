import Devices
import EPT
import Loader
import Primitives
import VMExit
import VMXCore
import X86

/// Runs the built-in test guests of the payload (Guest/test, Guest/README.md)
/// one after the other on fresh VMCSs, then prints the interface lines:
/// the guest result, the failed checks, the exit statistics.
enum TestGuests {
    static func runAll<Backend: GuestBackend>(
        manifest: PayloadManifest, backend: Backend, platform: inout Platform, memory: IdentityMemory
    ) {
        var session = backend.makeSession(platform: &platform, memory: memory)
        var vpid: UInt16 = 1
        for entry in manifest.entries where entry.kind == .testGuest {
            let start = TestGuestStart(rawValue: entry.flags)
            let name: StaticString = start == .smp ? "SMP" : start.isLongMode ? "64-bit" : "real-mode"
            console.line("guest: starting the \(name) test guest (\(entry.size) bytes at \(hex: start.loadAddress))")
            memory.pointer(start.loadAddress).copyMemory(
                from: memory.pointer(manifest.loadAddress + entry.offset), byteCount: Int(entry.size))
            let guest: VMCSGuestState
            if start.isLongMode {
                var tables = memory
                let paging = GuestPageTables(identityMapping: 4, at: 0x70000, in: &tables)
                guest = .longMode(rip: start.loadAddress, rsp: 0x1F_0000, cr3: paging.cr3)
            } else {
                guest = .realMode(cs: 0x1000, ip: 0, ss: 0x1000, sp: 0xFFF0)
            }
            let guestVPID = vpid
            vpid += 1  // a fresh VPID per guest: no TLB entries of the previous one
            var vcpu: Backend.Session.CPU
            do {
                vcpu = try session.makeVCPU(
                    guest: guest, longModeGuest: start.isLongMode, vpid: guestVPID,
                    platform: &platform, memory: memory)
            } catch {
                console.error("guest: the \(name) guest cannot start: \(error.message)")
                session.finishUnstartedGuest()
                continue
            }
            if start == .smp { _ = session.startApplicationProcessors(for: &vcpu, platform: &platform, memory: memory) }
            session.run(&vcpu)
            if start == .smp { session.stopApplicationProcessors(platform: &platform) }
        }
        console.line(session.checks.resultLine)
        session.checks.forEachFailedLine { console.line($0) }
        console.line(session.dispatcher.statistics.summaryLine)
    }
}
