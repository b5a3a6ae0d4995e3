import Devices
import EPT
import Loader
import VMExit
import VMXCore
import X86

/// Runs the built-in test guests of the payload (Guest/test, Guest/README.md)
/// one after the other on fresh VMCSs, then prints the interface lines:
/// the guest result, the failed checks, the exit statistics.
struct TestGuestRunner {
    var dispatcher: Dispatcher<CPUIDCache>
    var checks = FixedCheckRecorder()

    init(platform: Platform, guestMemory: GuestPhysicalMemory) {
        let io = IOPolicy(
            debugPort: IOPolicy.defaultDebugPort, pm1aControlPort: platform.acpi?.pm1aControlPort,
            s5SleepType: platform.acpi?.slpTypA ?? 0)
        dispatcher = Dispatcher(
            cpuid: CPUIDCache(reading: HardwareCPUID()), io: io,
            nestedPageFaults: NestedPageFaultPolicy(hiddenMemory: guestMemory.hidden))
    }

    mutating func runAll(
        manifest: PayloadManifest, root: VMXRoot, platform: inout Platform, guestMemory: GuestPhysicalMemory,
        memory: IdentityMemory
    ) {
        let bitmaps = ExitBitmaps(allocator: &platform.allocator, memory: memory, io: dispatcher.io)
        let ram = GuestRAM(map: platform.map, hidden: guestMemory.hidden)
        var vpid: UInt16 = 1
        for entry in manifest.entries where entry.kind == .testGuest {
            let start = TestGuestStart(rawValue: entry.flags)
            let name = start == .longMode ? "64-bit" : "real-mode"
            console.line("guest: starting the \(name) test guest (\(entry.size) bytes at \(hex(start.loadAddress)))")
            memory.pointer(start.loadAddress).copyMemory(
                from: memory.pointer(manifest.loadAddress + entry.offset), byteCount: Int(entry.size))
            var guest: VMCSGuestState
            if start == .longMode {
                var tables = memory
                let paging = GuestPageTables(identityMapping: 4, at: 0x70000, in: &tables)
                guest = .longMode(rip: start.loadAddress, rsp: 0x1F_0000, cr3: paging.cr3)
            } else {
                guest = .realMode(cs: 0x1000, ip: 0, ss: 0x1000, sp: 0xFFF0)
            }
            guest.applyFixedBits(root.capabilities, unrestrictedGuest: true)
            let policy = VMCSPolicy(
                hltExiting: true, msrBitmapAddress: bitmaps.msr, ioBitmapAAddress: bitmaps.ioA,
                ioBitmapBAddress: bitmaps.ioB, unrestrictedGuest: true, longModeGuest: start == .longMode,
                eptPointer: guestMemory.pointer.rawValue, vpid: vpid)
            vpid += 1  // a fresh VPID: no TLB entries of the previous guest
            var vcpu: VCPU
            do {
                let controls = try VMCSControls.make(capabilities: root.capabilities, policy: policy)
                vcpu = try VCPU(
                    capabilities: root.capabilities, allocator: &platform.allocator, memory: memory,
                    controls: controls, guest: guest)
            } catch {
                console.error("guest: the \(name) guest cannot start: \(error.message)")
                var sink = GuestConsole()
                dispatcher.finishGuest(console: &sink, checks: &checks)
                continue
            }
            let reason = vcpu.run(dispatcher: &dispatcher, memory: ram, checks: &checks)
            report(reason, vcpu: vcpu)
            vcpu.release()
        }
        console.write(checks.resultLine() + "\n")
        for line in checks.failedLines() { console.write(line + "\n") }
        console.write(dispatcher.statistics.summaryLine() + "\n")
    }

    /// One line on why the guest stopped, and the state that explains it.
    func report(_ reason: StopReason, vcpu: VCPU) {
        let vmcs = vcpu.vmcs
        let rip = hex(vmcs.read(VMCS.guestRIP))
        switch reason {
        case .guestPowerOff(let status):
            console.line("guest: powered off (status \(status))")
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
