import BIOSServices
import Devices
import EPT
import Loader
import Primitives
import X86

/// The machine as the hypervisor sees it after boot: physical memory (the
/// BIOS map, what the hypervisor owns, the page pool it allocates from) and
/// how to power off.
struct Platform {
    /// The BIOS map, with the pages below 1 MiB the hypervisor keeps
    /// (`lowHidden`) marked reserved once it takes them.
    var map: PhysicalMemoryMap
    /// The image (with its payload) and the pool: what no guest may see.
    let plan: HostMemoryPlan
    var allocator: FrameAllocator
    let acpi: ACPIPowerOff?
    /// The pages pxHV takes from the top of base memory (the AP trampoline,
    /// a BIOS guest's handler), from the BIOS's BDA word as the boot left it.
    let lowMemory: LowMemoryLayout
    /// Where the APs start (hidden from every guest): for a BIOS guest at
    /// the top of base memory, below its handler (`lowMemory`), so that DOS
    /// keeps one contiguous conventional memory; for every other guest at
    /// 0x6F000, reserved in its e820. (Linux, given 0x9E000 reserved in its
    /// e820, still accessed it during boot under Bochs, at RIP
    /// 0xffffffff9ded96a3; 0x6F000 it leaves alone.)
    let trampolinePage: PhysicalRange

    /// One range covering the image and the pool (and anything between):
    /// what no guest may see.
    var hiddenFromGuests: PhysicalRange {
        PhysicalRange(start: min(plan.image.start, plan.pool.start), end: max(plan.image.end, plan.pool.end))
    }
    /// Pages below 1 MiB the hypervisor keeps for itself (the AP trampoline,
    /// Processors.swift): hidden like `hiddenFromGuests`.
    var lowHidden = PhysicalRangeList()
    /// Every range no guest may see: `hiddenFromGuests` and `lowHidden`.
    var hiddenRanges: PhysicalRangeList {
        var ranges = lowHidden
        try? ranges.append(hiddenFromGuests)
        return ranges
    }

    /// 16 MiB: VMXON/VMCS regions, EPT tables, bitmaps, stacks.
    static let poolPages = 4096
    static let poolAlignment: UInt64 = 0x20_0000

    init(boot: BootInfo, manifest: PayloadManifest, memory: IdentityMemory) {
        lowMemory = LowMemoryLayout(baseMemoryKiB: memory.load(UInt16.self, at: LowMemoryLayout.baseMemoryWordAddress))
        trampolinePage = manifest.entry(.diskImage) != nil
            ? lowMemory.trampolinePage : PhysicalRange(start: 0x6_F000, length: Page.size)
        do {
            map = try PhysicalMemoryMap(e820: E820Table(memory: memory, address: boot.e820Address, count: boot.e820Count))
        } catch {
            fatal("memory: the BIOS E820 map is unusable: \(error.message)")
        }
        // The linker script's symbols bound the image (its .bss holds the
        // stacks, heap, GDT, IDT and TSS); the payload may reach further.
        let start = min(boot.payloadBase, x86_image_start()) & ~(Page.size - 1)
        let end = max(boot.payloadBase + manifest.totalSize, x86_image_end())
        do {
            plan = try HostMemoryPlan(
                map: map, image: PhysicalRange(start: start, end: end), poolPages: Self.poolPages,
                poolAlignment: Self.poolAlignment)
            allocator = try plan.poolAllocator(map: map)
        } catch {
            fatal("memory: cannot set up the page pool (\(Self.poolPages) pages): \(error.message)")
        }
        console.line(
            "memory: \(map.usableBytes >> 20) MiB usable in \(map.ranges(of: .usable).count) ranges; hypervisor \(hex: plan.image.start)-\(hex: plan.image.end), pool \(hex: plan.pool.start)-\(hex: plan.pool.end)"
        )

        do {
            let found = try ACPIPowerOff.discover(in: memory)
            console.line("acpi: PM1a control port \(hex: found.pm1aControlPort), S5 sleep type \(found.slpTypA)")
            acpi = found
        } catch {
            console.line("acpi: no power-off path (\(error.message)); the machine will halt instead")
            acpi = nil
        }
    }

    /// Prints the boot timeline and the last line and powers the machine
    /// off through ACPI (S5); halts if that is impossible or does not take.
    func powerOff() -> Never {
        Timeline.printLine()
        console.line("powering off")
        console.drain()
        if let acpi {
            var ports = HardwarePorts()
            acpi.powerOff(&ports)
            // The chipset may take a moment (QEMU's does: without the wait
            // the error line below was cut off mid-line by the power-off).
            PITDelay.wait(microseconds: 1_000_000)
        }
        console.error("power-off did not take effect; halted (switch the machine off)")
        x86_halt_forever()
    }
}
