import Devices
import EPT
import Loader
import X86

/// The machine as the hypervisor sees it after boot: physical memory (the
/// BIOS map, what the hypervisor owns, the page pool it allocates from) and
/// how to power off.
struct Platform {
    /// The BIOS map, with the pages below 1 MiB the hypervisor keeps
    /// (`lowHidden`) marked reserved once it takes them.
    var map: PhysicalMemoryMap
    /// [payload base, end of the hypervisor image or payload): never the
    /// guest's, never handed out.
    let hypervisorRange: PhysicalRange
    /// Every page the hypervisor allocates after boot comes from this
    /// window, right above its image, so one contiguous region holds all
    /// of the hypervisor (image, payload, pool) and can be hidden as one.
    let poolRange: PhysicalRange
    var allocator: FrameAllocator
    let acpi: ACPIPowerOff?

    /// [payload base, end of the pool): what no guest may see.
    var hiddenFromGuests: PhysicalRange { PhysicalRange(start: hypervisorRange.start, end: poolRange.end) }
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
        do {
            map = try PhysicalMemoryMap(e820: E820Table(memory: memory, address: boot.e820Address, count: boot.e820Count))
        } catch {
            fatal("memory: the BIOS E820 map is unusable: \(error.message)")
        }
        let end = max(boot.payloadBase + manifest.totalSize, x86_image_end())
        hypervisorRange = PhysicalRange(start: boot.payloadBase, end: end)
        do {
            var everything = try FrameAllocator(map: map, excluding: [hypervisorRange])
            let pool = try everything.allocate(pages: Self.poolPages, alignment: Self.poolAlignment)
            poolRange = PhysicalRange(start: pool, length: UInt64(Self.poolPages) * Page.size)
            allocator = try FrameAllocator(map: map, window: poolRange)
        } catch {
            fatal("memory: cannot set up the page pool (\(Self.poolPages) pages): \(error.message)")
        }
        console.line(
            "memory: \(map.usableBytes >> 20) MiB usable in \(map.ranges(of: .usable).count) ranges; hypervisor \(hex(hypervisorRange.start))-\(hex(hypervisorRange.end)), pool \(hex(poolRange.start))-\(hex(poolRange.end))"
        )

        do {
            let found = try ACPIPowerOff.discover(in: memory)
            console.line("acpi: PM1a control port \(hex(found.pm1aControlPort)), S5 sleep type \(found.slpTypA)")
            acpi = found
        } catch {
            console.line("acpi: no power-off path (\(error.message)); the machine will halt instead")
            acpi = nil
        }
    }

    /// Prints the last line and powers the machine off through ACPI (S5);
    /// halts if that is impossible or does not take.
    func powerOff() -> Never {
        console.line("powering off")
        console.drain()
        if let acpi {
            var ports = HardwarePorts()
            acpi.powerOff(&ports)
        }
        console.error("power-off did not take effect; halted (switch the machine off)")
        x86_halt_forever()
    }
}
