import EPT
import Loader
import Primitives
import VMExit
import VMXCore

/// Boots the payload's Multiboot v1 kernel (`--guest multiboot`) as the
/// guest: segments at their own addresses (ELF32 program headers or the
/// a.out kludge), modules and the boot information placed by
/// `MultibootPlan` in the guest's usable RAM, the memory map the guest's own
/// (the hypervisor's memory reserved), then the entry of Multiboot 0.6.96,
/// "Machine state": 32-bit protected mode, paging off, flat segments,
/// EAX = 0x2BADB002, EBX = the info structure, interrupts off.
///
/// The payload holds the kernel (`.multibootKernel`), the command line
/// (`.commandLine`, NUL-terminated; none: empty) and per module a
/// `.multibootModule` entry followed by its `.multibootModuleString`.
enum MultibootGuest {
    /// Places the kernel, modules and boot information; nil (after one
    /// `pxhv: error:` line) when the payload or the plan cannot be used:
    /// then nothing was written to guest memory.
    static func prepare(
        manifest: PayloadManifest, hidden: PhysicalRange, map: PhysicalMemoryMap, memory: IdentityMemory
    ) -> MultibootPlan? {
        guard let kernel = manifest.entry(.multibootKernel) else { return nil }
        let base = manifest.loadAddress
        func bytes(_ entry: PayloadEntry) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: memory.pointer(base + entry.offset), count: Int(entry.size))
        }
        /// A string entry without its NUL.
        func string(_ entry: PayloadEntry?) -> UnsafeRawBufferPointer {
            guard let entry else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            let text = bytes(entry)
            if let last = text.last, last == 0 { return UnsafeRawBufferPointer(rebasing: text.dropLast()) }
            return text
        }
        let image = bytes(kernel)
        let commandLine = string(manifest.entry(.commandLine))

        // Each module entry is followed by its string entry (the image
        // builder writes them so); anything else is a malformed payload.
        var modules: [MultibootModule] = []
        let entries = manifest.entries
        for index in entries.indices where entries[index].kind == .multibootModule {
            guard index + 1 < entries.count, entries[index + 1].kind == .multibootModuleString else {
                console.error("multiboot: payload entry \(index) (a module) is not followed by its string entry")
                return nil
            }
            modules.append(MultibootModule(bytes: bytes(entries[index]), commandLine: string(entries[index + 1])))
        }

        let guestMap: PhysicalMemoryMap
        do {
            guestMap = try map.reserving(hidden)
        } catch {
            console.error("\(error.message)")
            return nil
        }
        let plan: MultibootPlan
        do {
            let parsed = try MultibootImage(parsing: image)
            plan = try MultibootPlan(
                image: parsed, commandLine: commandLine, modules: modules, memoryMap: guestMap, hypervisor: hidden)
        } catch {
            console.error(error.message)
            return nil
        }
        var guestRAM = memory
        plan.load(imageBytes: image, commandLine: commandLine, modules: modules, memoryMap: guestMap, into: &guestRAM)

        let range = plan.image.range
        console.line(
            "multiboot: kernel \(image.count) bytes (\(plan.image.flags.contains(.addressFields) ? "a.out kludge" : "ELF32"), \(plan.image.segments.count) segments) at \(hex: range.start)-\(hex: range.end), entry \(hex: plan.image.entryPoint); \(modules.count) modules; boot information at \(hex: plan.bootInformation.start)-\(hex: plan.bootInformation.end)"
        )
        for (index, module) in plan.modules.enumerated() {
            console.line("multiboot: module \(index): \(module.length) bytes at \(hex: module.start)")
        }
        return plan
    }

    /// Prepares and runs the kernel on `backend`, then prints the guest's
    /// check result (when it made checks) and the exit counters.
    static func run<Backend: GuestBackend>(
        manifest: PayloadManifest, backend: Backend, hidden: PhysicalRange, platform: inout Platform,
        memory: IdentityMemory
    ) {
        guard let plan = prepare(manifest: manifest, hidden: hidden, map: platform.map, memory: memory) else { return }
        let entry = plan.entry
        // ESP is undefined at entry ("Machine state"): 0; the kernel loads
        // its own stack (and GDT and IDT) first.
        let guest = VMCSGuestState.protectedMode32(eip: entry.instructionPointer, esp: 0)
        var session = backend.makeSession(platform: &platform, memory: memory)
        var vcpu: Backend.Session.CPU
        do {
            vcpu = try session.makeVCPU(guest: guest, longModeGuest: false, vpid: 1, platform: &platform, memory: memory)
        } catch {
            console.error("multiboot: the guest cannot start: \(error.message)")
            return
        }
        vcpu.registers.rax = UInt64(entry.eax)
        vcpu.registers.rbx = UInt64(entry.ebx)
        console.line("multiboot: launching the guest (EAX \(hex: entry.eax), EBX \(hex: entry.ebx))")
        session.run(&vcpu)
        if session.checks.total > 0 {
            console.line(session.checks.resultLine)
            session.checks.forEachFailedLine { console.line($0) }
        }
        session.reportExits()
    }
}
