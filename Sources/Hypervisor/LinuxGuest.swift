import Devices
import EPT
import Loader
import Primitives
import VMExit
import VMXCore
import X86

/// Boots the payload's Linux kernel as the guest through its 64-bit entry
/// (Linux boot protocol, Documentation/arch/x86/boot.rst, "64-bit Boot
/// Protocol"): kernel, initrd and command line placed by `LinuxBootPlan`,
/// boot_params with the guest's e820 (the hypervisor region reserved),
/// identity page tables, a GDT with __BOOT_CS (0x10) and __BOOT_DS (0x18),
/// RSI = boot_params, interrupts off.
struct LinuxGuest {
    /// The GDT for the entry: below the page tables' end, in guest memory.
    static let gdtAddress: UInt64 = 0x7F000
    static let initialStack: UInt64 = 0x7F000

    /// What `prepare` placed in guest memory.
    struct Prepared {
        let guestMap: PhysicalMemoryMap
        let entry: LinuxEntry
        let cr3: UInt64
    }

    /// Loads kernel, initrd and command line by the boot protocol, writes
    /// boot_params, the identity page tables and the boot GDT. `smp`: the
    /// guest's ACPI tables list the parked APs too, which `run` turns into
    /// its vCPUs (VT-x).
    static func prepare(
        manifest: PayloadManifest, hidden: PhysicalRange, map: PhysicalMemoryMap, smp: Bool, memory: IdentityMemory
    ) -> Prepared? {
        guard let kernel = manifest.entry(.linuxKernel) else { return nil }
        let base = manifest.loadAddress
        let bytes = { (entry: PayloadEntry?) -> UnsafeRawBufferPointer in
            guard let entry else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(start: memory.pointer(base + entry.offset), count: Int(entry.size))
        }
        let image = bytes(kernel)
        let initrd = bytes(manifest.entry(.initrd))
        var commandLine = bytes(manifest.entry(.commandLine))
        if let last = commandLine.last, last == 0 {
            commandLine = UnsafeRawBufferPointer(rebasing: commandLine.dropLast())
        }

        let guestMap: PhysicalMemoryMap
        do {
            guestMap = try map.reserving(hidden).marking(LinuxBootLayout.acpiTables, as: .acpiReclaimable)
        } catch {
            fatal("\(error.message)")
        }
        let plan: LinuxBootPlan
        do {
            let header = try LinuxSetupHeader(parsing: image)
            plan = try LinuxBootPlan(
                header: header, imageSize: image.count, initrdSize: UInt64(initrd.count),
                commandLineLength: commandLine.count, memoryMap: guestMap, entryMode: .bits64)
        } catch {
            fatal("linux: \(error.message)")
        }
        var guestRAM = memory
        plan.load(image: image, initrd: initrd, commandLine: commandLine, memoryMap: guestMap, into: &guestRAM)
        if let rsdp = Processors.writeGuestACPITables(at: LinuxBootLayout.acpiTables, keepingParkedAPs: smp, memory: memory) {
            guestRAM.store(rsdp, at: plan.bootParamsAddress + UInt64(LinuxBootParams.Offset.acpiRSDPAddress))
        }
        let paging = GuestPageTables(identityMapping: 4, at: LinuxBootLayout.pageTables.start, in: &guestRAM)
        writeBootGDT(into: &guestRAM)
        let entry = plan.entry
        console.line(
            "linux: protocol \(plan.header.versionMajor).\(plan.header.versionMinor), kernel \(image.count) bytes at \(hex: plan.loadAddress), initrd \(initrd.count) bytes at \(hex: plan.initrd?.start ?? 0), entry \(hex: entry.instructionPointer), boot_params \(hex: entry.bootParams)"
        )
        return Prepared(guestMap: guestMap, entry: entry, cr3: paging.cr3)
    }

    /// The native baseline (`build-image --direct`): the same kernel, memory
    /// layout and entry state, without VMX.
    static func runDirect(_ prepared: Prepared) -> Never {
        console.line("linux: direct boot (no hypervisor): jumping to \(hex: prepared.entry.instructionPointer)")
        console.drain()
        var gdtr = x86_descriptor_table()
        gdtr.base = gdtAddress
        gdtr.limit = 0x27
        x86_enter_linux64(prepared.entry.instructionPointer, prepared.entry.bootParams, prepared.cr3, &gdtr, initialStack)
    }

    static func run<Backend: GuestBackend>(
        _ prepared: Prepared, backend: Backend, platform: inout Platform, memory: IdentityMemory
    ) {
        let entry = prepared.entry
        var guest = VMCSGuestState.longMode(rip: entry.instructionPointer, rsp: initialStack, cr3: prepared.cr3)
        let data = SegmentRegister(selector: LinuxEntry.bootDataSelector, base: 0, limit: 0xFFFF_FFFF, accessRights: .flatData)
        guest.cs = SegmentRegister(selector: LinuxEntry.bootCodeSelector, base: 0, limit: 0xFFFF_FFFF, accessRights: .code64)
        guest.ds = data
        guest.es = data
        guest.ss = data
        guest.fs = data
        guest.gs = data
        guest.tr.selector = 0x20
        guest.gdtr = DescriptorTableRegister(base: gdtAddress, limit: 0x27)

        var session = backend.makeSession(platform: &platform, memory: memory)
        var vcpu: Backend.Session.CPU
        do {
            // HLT is the guest's idle loop: it exits, and the guest then
            // sleeps in the HLT activity state until its own interrupts wake it.
            vcpu = try session.makeVCPU(
                guest: guest, longModeGuest: true, vpid: 1, platform: &platform, memory: memory)
        } catch {
            fatal("linux: the guest cannot start: \(error.message)")
        }
        vcpu.registers.rsi = entry.bootParams
        // Linux starts its other CPUs itself (INIT, STARTUP): the parked APs
        // become its vCPUs (VT-x; under AMD-V they stay parked).
        _ = session.startApplicationProcessors(for: &vcpu, platform: &platform, memory: memory)
        console.line("linux: launching the guest")
        session.run(&vcpu)
        session.stopApplicationProcessors(platform: &platform)
        session.reportExits()
    }

    /// Null, null, __BOOT_CS (64-bit code), __BOOT_DS (flat data), null TR slot.
    static func writeBootGDT(into memory: inout IdentityMemory) {
        let descriptors: [UInt64] = [0, 0, 0x00AF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF, 0]
        for (index, descriptor) in descriptors.enumerated() {
            memory.store(descriptor, at: gdtAddress + UInt64(index) * 8)
        }
    }
}
