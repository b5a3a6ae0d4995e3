import EPT
import Primitives

/// Fixed guest-physical addresses of the Linux boot data,
/// all in conventional memory below 0x9F000.
///
/// Below 0x70000 the boot chain still has live data when the hypervisor
/// loads the guest: BootInfo at 0x1000, stages 1-2 at 0x7C00, the bounce
/// buffer at 0x10000 and stage 2's identity page tables at
/// [0x20000, 0x60000) (Boot/layout.inc). So the guest's boot data starts
/// at 0x70000:
///
///     0x6E000 - 0x6EFFF  the guest's copy of the ACPI tables (RSDP, root
///                        tables, a MADT listing only the guest's CPUs),
///                        e820 type 3 (ACPI); boot_params.acpi_rsdp_addr
///     0x6F000 - 0x6FFFF  the hypervisor's AP trampoline: hidden (reserved
///                        in e820, unmapped in EPT)
///     0x70000 - 0x7FFFF  identity page tables for the 64-bit entry, built
///                        by the hypervisor with `GuestPageTables` (64 KiB:
///                        up to 14 GiB with 2 MiB pages)
///     0x80000 - 0x80FFF  boot_params ("zero page")
///     0x81000 - 0x8FFFF  command line (NUL-terminated)
///
/// Boot.rst, "Details of Header Fields", cmd_line_ptr: the command line may
/// sit anywhere below 0xA0000; boot.rst, "Memory Layout", asks to keep the
/// "memory ceiling" low because of the EBDA (0x9FC00 on most BIOSes).
public enum LinuxBootLayout {
    public static let acpiTables = PhysicalRange(start: 0x6_E000, end: 0x6_F000)
    public static let pageTables = PhysicalRange(start: 0x7_0000, end: 0x8_0000)
    public static let bootParams: UInt64 = 0x8_0000
    public static let bootParamsSize: UInt64 = 0x1000
    public static let commandLine: UInt64 = 0x8_1000
    public static let commandLineCapacity: UInt64 = 0x9_0000 - 0x8_1000
    /// Kernels and initrds go at or above 1 MiB.
    public static let highMemoryStart: UInt64 = 0x10_0000
    /// The lowest address tried first for a relocated kernel: Linux's own
    /// default load address (CONFIG_PHYSICAL_START), above the ISA DMA zone.
    public static let preferredRelocationFloor: UInt64 = 0x100_0000
    /// Alignment of the initrd's start.
    public static let initrdAlignment: UInt64 = 0x1000
}

/// Where a bzImage, its boot_params, command line and initrd go in guest
/// memory, and how the guest enters it: `init` decides, `load` copies.
///
/// Linux boot protocol (Documentation/arch/x86/boot.rst), "Loading The Rest
/// of The Kernel", "32-bit Boot Protocol" and "64-bit Boot Protocol".
public struct LinuxBootPlan: Equatable, Sendable {
    public var header: LinuxSetupHeader
    public var entryMode: LinuxEntryMode
    /// Where the protected-mode kernel is copied (also code32_start).
    public var loadAddress: UInt64
    /// The kernel's alignment as written back to `kernel_alignment`: the
    /// header's value, or a lesser power of two down to `min_alignment`
    /// when no address with the preferred one fits (boot.rst,
    /// "Details of Header Fields", min_alignment).
    public var kernelAlignment: UInt32
    /// [loadAddress, loadAddress + max(init_size, protected-mode size)):
    /// what the kernel uses before it reads the e820 map.
    public var kernelRange: PhysicalRange
    /// File offset and size of the protected-mode code in the image.
    public var protectedModeOffset: Int
    public var protectedModeSize: Int
    public var bootParamsAddress: UInt64
    public var commandLineAddress: UInt64
    /// Command-line bytes without the NUL the loader appends.
    public var commandLineLength: Int
    /// The initrd's place, or nil without one.
    public var initrd: PhysicalRange?

    /// Plans a boot of an image whose header is `header`.
    ///
    /// - Parameters:
    ///   - imageSize: bytes of the whole bzImage file.
    ///   - initrdSize: bytes of the initrd (0: none).
    ///   - commandLineLength: bytes of the command line, without a NUL.
    ///   - memoryMap: the guest's map, with the hypervisor's own region
    ///     already reserved; kernel and initrd go only into usable RAM.
    public init(
        header: LinuxSetupHeader, imageSize: Int, initrdSize: UInt64, commandLineLength: Int,
        memoryMap: PhysicalMemoryMap, entryMode: LinuxEntryMode
    ) throws(LinuxBootError) {
        if entryMode == .bits64 && !header.xloadflags.contains(.kernel64) {
            throw .entryModeUnsupported(.bits64)
        }
        let maximumCommandLine = min(Int(header.cmdlineSize), Int(LinuxBootLayout.commandLineCapacity) - 1)
        guard commandLineLength <= maximumCommandLine else {
            throw .commandLineTooLong(length: commandLineLength, maximum: maximumCommandLine)
        }
        guard imageSize > header.protectedModeOffset else {
            throw .notBzImage(.truncated(size: imageSize))
        }
        try Self.requireUsable(
            PhysicalRange(start: LinuxBootLayout.bootParams, length: LinuxBootLayout.bootParamsSize), in: memoryMap)
        try Self.requireUsable(
            PhysicalRange(start: LinuxBootLayout.commandLine, length: UInt64(commandLineLength) + 1), in: memoryMap)
        if entryMode == .bits64 { try Self.requireUsable(LinuxBootLayout.pageTables, in: memoryMap) }

        self.header = header
        self.entryMode = entryMode
        protectedModeOffset = header.protectedModeOffset
        protectedModeSize = imageSize - header.protectedModeOffset
        let footprint = max(UInt64(header.initSize), UInt64(protectedModeSize))
        (loadAddress, kernelAlignment) = try Self.placeKernel(header: header, footprint: footprint, in: memoryMap)
        kernelRange = PhysicalRange(start: loadAddress, length: footprint)
        bootParamsAddress = LinuxBootLayout.bootParams
        commandLineAddress = LinuxBootLayout.commandLine
        self.commandLineLength = commandLineLength
        initrd =
            initrdSize == 0
            ? nil
            : try Self.placeInitrd(
                size: initrdSize, limit: UInt64(header.initrdAddrMax), avoiding: kernelRange, in: memoryMap)
    }

    /// Where the guest starts.
    public var entry: LinuxEntry {
        switch entryMode {
        case .bits64: LinuxEntry(mode: .bits64, instructionPointer: loadAddress + 0x200, bootParams: bootParamsAddress)
        case .bits32: LinuxEntry(mode: .bits32, instructionPointer: loadAddress, bootParams: bootParamsAddress)
        }
    }

    private static func requireUsable(_ range: PhysicalRange, in map: PhysicalMemoryMap) throws(LinuxBootError) {
        guard map.contains(range, type: .usable) else {
            throw .lowMemoryUnavailable(start: range.start, end: range.end)
        }
    }

    /// Boot.rst, "Details of Header Fields", pref_address and
    /// relocatable_kernel: the preferred address if `footprint` bytes of
    /// usable RAM are there; else (relocatable kernels only) the lowest
    /// aligned address at or above 16 MiB, then at or above 1 MiB, trying
    /// each power-of-two alignment from kernel_alignment down to
    /// 1 << min_alignment.
    static func placeKernel(
        header: LinuxSetupHeader, footprint: UInt64, in map: PhysicalMemoryMap
    ) throws(LinuxBootError) -> (UInt64, UInt32) {
        let preferred = header.prefAddress != 0 ? header.prefAddress : LinuxBootLayout.highMemoryStart
        if map.contains(PhysicalRange(start: preferred, length: footprint), type: .usable),
            preferred.isMultiple(ofPowerOfTwo: UInt64(header.kernelAlignment)) || !header.isRelocatable
        {
            return (preferred, header.kernelAlignment)
        }
        guard header.isRelocatable else { throw .notRelocatable(prefAddress: preferred, size: footprint) }
        let minimum: UInt64 =
            header.minAlignmentShift == 0 || header.minAlignmentShift > 31
            ? UInt64(header.kernelAlignment) : min(UInt64(1) << header.minAlignmentShift, UInt64(header.kernelAlignment))
        var alignment = UInt64(header.kernelAlignment)
        while alignment >= minimum && alignment >= LinuxBootLayout.initrdAlignment {
            if let address = lowestFit(
                size: footprint, alignment: alignment, floor: LinuxBootLayout.preferredRelocationFloor, in: map)
                ?? lowestFit(size: footprint, alignment: alignment, floor: LinuxBootLayout.highMemoryStart, in: map)
            {
                return (address, UInt32(alignment))
            }
            alignment >>= 1
        }
        throw .kernelDoesNotFit(size: footprint, largestUsable: largestUsable(above: LinuxBootLayout.highMemoryStart, in: map))
    }

    /// The lowest `alignment`-aligned address >= `floor` with `size` bytes
    /// of usable RAM from it.
    static func lowestFit(size: UInt64, alignment: UInt64, floor: UInt64, in map: PhysicalMemoryMap) -> UInt64? {
        map.regions.withElements { regions in
            for region in regions where region.type == .usable && region.range.end > floor {
                guard let start = max(region.range.start, floor).roundedUp(toPowerOfTwo: alignment) else { return nil }
                if start < region.range.end && region.range.end - start >= size { return start }
            }
            return nil
        }
    }

    /// Boot.rst, "Details of Header Fields", initrd_addr_max (the highest
    /// byte the initrd may occupy) and "Special Command Line Options", mem=
    /// ("an initrd should be placed near end of memory"): the highest
    /// 4 KiB-aligned place in usable RAM above 1 MiB that ends at or below
    /// `limit` and does not overlap the kernel.
    static func placeInitrd(
        size: UInt64, limit: UInt64, avoiding kernel: PhysicalRange, in map: PhysicalMemoryMap
    ) throws(LinuxBootError) -> PhysicalRange {
        var best: UInt64?
        var largestFree: UInt64 = 0
        let ceiling = limit == .max ? limit : limit + 1
        map.regions.withElements { regions in
            for region in regions where region.type == .usable && region.range.end > LinuxBootLayout.highMemoryStart {
                let usable = PhysicalRange(
                    start: max(region.range.start, LinuxBootLayout.highMemoryStart), end: region.range.end)
                func consider(_ piece: PhysicalRange) {
                    largestFree = max(largestFree, piece.length)
                    let end = min(piece.end, ceiling)
                    guard end > piece.start, end - piece.start >= size else { return }
                    let start = (end - size).roundedDown(toPowerOfTwo: LinuxBootLayout.initrdAlignment)
                    if start >= piece.start && start > (best ?? 0) { best = start }
                }
                // The usable range minus the kernel: at most two pieces.
                if let overlap = usable.intersection(kernel) {
                    if overlap.start > usable.start { consider(PhysicalRange(start: usable.start, end: overlap.start)) }
                    if overlap.end < usable.end { consider(PhysicalRange(start: overlap.end, end: usable.end)) }
                } else {
                    consider(usable)
                }
            }
        }
        if let best { return PhysicalRange(start: best, length: size) }
        if size > largestFree { throw .initrdTooLarge(size: size, largestFree: largestFree) }
        throw .initrdAboveLimit(size: size, limit: limit)
    }

    static func largestUsable(above floor: UInt64, in map: PhysicalMemoryMap) -> UInt64 {
        map.regions.withElements { regions in
            var largest: UInt64 = 0
            for region in regions where region.type == .usable && region.range.end > floor {
                largest = max(largest, region.range.end - max(region.range.start, floor))
            }
            return largest
        }
    }
}

/// The guest's register state at the Linux entry point.
///
/// Boot.rst, "32-bit Boot Protocol" / "64-bit Boot Protocol": CS = __BOOT_CS
/// (0x10) and DS = ES = SS = __BOOT_DS (0x18), both flat 4 GiB; interrupts
/// disabled; for 32-bit entry paging off and EBP = EDI = EBX = 0; for 64-bit
/// entry long mode with identity paging (`GuestPageTables` at
/// `LinuxBootLayout.pageTables`).
public struct LinuxEntry: Equatable, Sendable {
    public static let bootCodeSelector: UInt16 = 0x10
    public static let bootDataSelector: UInt16 = 0x18

    public var mode: LinuxEntryMode
    /// RIP (EIP): load address + 0x200 (64-bit) or the load address (32-bit).
    public var instructionPointer: UInt64
    /// RSI (ESI): the boot_params address.
    public var bootParams: UInt64
}

extension UInt64 {
    /// Rounded up to a multiple of `alignment` (a power of two); nil on overflow.
    func roundedUp(toPowerOfTwo alignment: UInt64) -> UInt64? {
        let (sum, overflow) = addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }

    func roundedDown(toPowerOfTwo alignment: UInt64) -> UInt64 { self & ~(alignment - 1) }

    func isMultiple(ofPowerOfTwo alignment: UInt64) -> Bool { self & (alignment - 1) == 0 }
}
