import EPT
import Primitives

/// A module handed to a Multiboot kernel: its bytes and its command line
/// (without a NUL). A view for the duration of planning and loading.
public struct MultibootModule {
    public var bytes: UnsafeRawBufferPointer
    public var commandLine: UnsafeRawBufferPointer

    public init(bytes: UnsafeRawBufferPointer, commandLine: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.commandLine = commandLine
    }
}

/// Where a Multiboot image, its modules and the boot information go, and
/// the entry state: `init` decides, `load` copies.
///
/// Multiboot Specification 0.6.96, "Boot information format": "The
/// Multiboot information structure and its related substructures may be
/// placed anywhere in memory by the boot loader (with the exception of the
/// memory reserved for the kernel and boot modules, of course)". pxHV puts
/// them together in one page-aligned area of usable guest RAM above the
/// kernel and the modules (so above 1 MiB, clear of the BIOS areas, and,
/// the map having the hypervisor's memory reserved, clear of that too):
///
///     +0x000  multiboot_info (`infoSize` bytes, zeroed)
///     +0x080  memory map, 24-byte entries {size = 20, base, length, type}
///     ...     module list, 16-byte entries {mod_start, mod_end, string, 0}
///     ...     command line, boot loader name, module strings (each NUL-terminated)
///
/// Modules go first, each 4 KiB-aligned (header flags bit 0 may ask for it;
/// pxHV always does it), at the lowest usable address above the kernel.
public struct MultibootPlan: Equatable, Sendable {
    /// "Boot information format": the fields through the framebuffer ones
    /// end at offset 116; the area reserves 128 bytes, zeroed.
    public static let infoSize: UInt64 = 0x80
    public static let memoryMapEntrySize = 24
    public static let moduleEntrySize = 16
    public static let maximumModules = 48

    /// "Boot information format": offsets in multiboot_info.
    public enum InfoOffset {
        public static let flags: UInt64 = 0
        public static let memLower: UInt64 = 4
        public static let memUpper: UInt64 = 8
        public static let cmdline: UInt64 = 16
        public static let modsCount: UInt64 = 20
        public static let modsAddr: UInt64 = 24
        public static let mmapLength: UInt64 = 44
        public static let mmapAddr: UInt64 = 48
        public static let bootLoaderName: UInt64 = 64
    }

    /// multiboot_info.flags: which fields are valid.
    public struct InfoFlags: OptionSet, Equatable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let memory = Self(rawValue: 1 << 0)
        public static let commandLine = Self(rawValue: 1 << 2)
        public static let modules = Self(rawValue: 1 << 3)
        public static let memoryMap = Self(rawValue: 1 << 6)
        public static let bootLoaderName = Self(rawValue: 1 << 9)
    }

    public static let bootLoaderName: StaticString = "pxHV"

    public var image: MultibootImage
    /// Each module's place (4 KiB-aligned), in order.
    public var modules: BoundedArray<48, PhysicalRange>
    /// The page-aligned area holding everything below.
    public var bootInformation: PhysicalRange
    public var infoAddress: UInt64
    public var memoryMapAddress: UInt64
    /// mmap_length: bytes of memory map entries.
    public var memoryMapLength: UInt64
    public var moduleListAddress: UInt64
    public var commandLineAddress: UInt64
    public var bootLoaderNameAddress: UInt64
    /// Each module's string, in order (without its NUL).
    public var moduleCommandLines: BoundedArray<48, PhysicalRange>

    /// Plans a boot of `image` with `modules`.
    ///
    /// - Parameters:
    ///   - memoryMap: the guest's map, with the hypervisor's memory already
    ///     reserved: it is what the kernel is shown, and everything goes
    ///     into its usable RAM only.
    ///   - hypervisor: the hypervisor's memory, to name it when a segment
    ///     lands there.
    public init(
        image: MultibootImage, commandLine: UnsafeRawBufferPointer, modules inputs: [MultibootModule],
        memoryMap: PhysicalMemoryMap, hypervisor: PhysicalRange
    ) throws(MultibootError) {
        self.image = image
        try image.checkPlacement(hypervisor: hypervisor)
        try image.segments.withElements { (segments) throws(MultibootError) in
            for segment in segments where !memoryMap.contains(segment.range, type: .usable) {
                throw .notInUsableRAM(start: segment.range.start, end: segment.range.end)
            }
        }
        guard inputs.count <= Self.maximumModules else {
            throw .tooManyModules(count: inputs.count, maximum: Self.maximumModules)
        }

        // Modules: page-aligned, lowest usable RAM above the image, below
        // 4 GiB (mod_start and mod_end are 32-bit fields).
        self.modules = BoundedArray()
        var floor = image.range.end
        for (index, module) in inputs.enumerated() {
            let size = UInt64(module.bytes.count)
            guard let start = Self.place(size: size, above: floor, in: memoryMap) else {
                throw .moduleDoesNotFit(index: index, size: size)
            }
            do throws(CapacityExceeded) { try self.modules.append(PhysicalRange(start: start, length: size)) } catch {
                fatalError("unreachable: count checked")
            }
            floor = start + size
        }

        // The boot information: sizes first, then one place for all of it.
        let mapLength = UInt64(memoryMap.count * Self.memoryMapEntrySize)
        let listOffset = (Self.infoSize + mapLength + 15) & ~15
        var stringsLength = UInt64(commandLine.count) + 1 + UInt64(Self.bootLoaderName.utf8CodeUnitCount) + 1
        for module in inputs { stringsLength += UInt64(module.commandLine.count) + 1 }
        let stringsOffset = listOffset + UInt64(inputs.count * Self.moduleEntrySize)
        let size = (stringsOffset + stringsLength + Page.size - 1) & ~(Page.size - 1)
        guard let area = Self.place(size: size, above: floor, in: memoryMap) else {
            throw .bootInformationDoesNotFit(size: size)
        }
        bootInformation = PhysicalRange(start: area, length: size)
        infoAddress = area
        memoryMapAddress = area + Self.infoSize
        memoryMapLength = mapLength
        moduleListAddress = area + listOffset
        var cursor = area + stringsOffset
        func string(_ length: Int) -> PhysicalRange {
            defer { cursor += UInt64(length) + 1 }
            return PhysicalRange(start: cursor, length: UInt64(length))
        }
        commandLineAddress = string(commandLine.count).start
        bootLoaderNameAddress = string(Self.bootLoaderName.utf8CodeUnitCount).start
        moduleCommandLines = BoundedArray()
        for module in inputs {
            do throws(CapacityExceeded) { try moduleCommandLines.append(string(module.commandLine.count)) } catch {
                fatalError("unreachable: count checked")
            }
        }
    }

    /// The lowest 4 KiB-aligned address at or above `floor` (and 1 MiB)
    /// with `size` bytes of usable RAM (at least one page, so that empty
    /// modules get distinct addresses too) ending below 4 GiB (the end
    /// itself, mod_end, must fit in 32 bits).
    static func place(size: UInt64, above floor: UInt64, in map: PhysicalMemoryMap) -> UInt64? {
        let footprint = max(size, Page.size)
        guard let start = LinuxBootPlan.lowestFit(
            size: footprint, alignment: Page.size, floor: max(floor, MultibootImage.lowestLoadAddress), in: map),
            start < MultibootImage.addressLimit, MultibootImage.addressLimit - start > footprint
        else { return nil }
        return start
    }

    /// Entry state: "Machine state" in the specification.
    public var entry: MultibootEntry {
        MultibootEntry(instructionPointer: image.entryPoint, infoAddress: UInt32(infoAddress))
    }

    /// Copies the image segments (zeroing their bss), the modules and the
    /// strings, and writes the info structure, memory map and module list.
    /// Pass the same inputs as to `init`: every address written was checked
    /// there to be usable guest RAM.
    public func load<Memory: PhysicalMemory>(
        imageBytes: UnsafeRawBufferPointer, commandLine: UnsafeRawBufferPointer, modules inputs: [MultibootModule],
        memoryMap: PhysicalMemoryMap, into memory: inout Memory
    ) {
        precondition(inputs.count == modules.count, "not the planned modules")
        image.segments.withElements { segments in
            for segment in segments {
                let start = Int(segment.fileOffset)
                memory.storeBytes(
                    UnsafeRawBufferPointer(rebasing: imageBytes[start..<start + Int(segment.fileSize)]),
                    at: segment.address)
                memory.storeZeros(count: segment.memorySize - segment.fileSize, at: segment.address + segment.fileSize)
            }
        }
        memory.storeZeros(count: bootInformation.length, at: bootInformation.start)
        func string(_ bytes: UnsafeRawBufferPointer, at address: UInt64) {
            memory.storeBytes(bytes, at: address)
            memory.store(UInt8(0), at: address + UInt64(bytes.count))
        }
        string(commandLine, at: commandLineAddress)
        Self.bootLoaderName.withUTF8Buffer { string(UnsafeRawBufferPointer($0), at: bootLoaderNameAddress) }

        for (index, module) in inputs.enumerated() {
            let place = modules[index], line = moduleCommandLines[index]
            memory.storeBytes(module.bytes, at: place.start)
            string(module.commandLine, at: line.start)
            let entry = moduleListAddress + UInt64(index * Self.moduleEntrySize)
            memory.store(UInt32(place.start), at: entry)  // mod_start
            memory.store(UInt32(place.end), at: entry + 4)  // mod_end (exclusive)
            memory.store(UInt32(line.start), at: entry + 8)  // string
            memory.store(UInt32(0), at: entry + 12)  // reserved
        }

        // "mmap_addr ... each entry: size (of the rest, 20), base_addr,
        // length, type"; type 1 is available RAM, 3 ACPI, 4 preserve on
        // hibernation, 5 defective, anything else reserved.
        memoryMap.regions.withElements { regions in
            for (index, region) in regions.enumerated() {
                let entry = memoryMapAddress + UInt64(index * Self.memoryMapEntrySize)
                memory.store(UInt32(Self.memoryMapEntrySize - 4), at: entry)
                memory.store(region.range.start, at: entry + 4)
                memory.store(region.range.length, at: entry + 12)
                memory.store(region.type.rawValue, at: entry + 20)
            }
        }

        let info = infoAddress
        var flags: InfoFlags = [.memory, .commandLine, .memoryMap, .bootLoaderName]
        if !inputs.isEmpty { flags.insert(.modules) }
        memory.store(flags.rawValue, at: info + InfoOffset.flags)
        let (lower, upper) = Self.memorySizes(memoryMap)
        memory.store(lower, at: info + InfoOffset.memLower)
        memory.store(upper, at: info + InfoOffset.memUpper)
        memory.store(UInt32(commandLineAddress), at: info + InfoOffset.cmdline)
        memory.store(UInt32(inputs.count), at: info + InfoOffset.modsCount)
        memory.store(UInt32(moduleListAddress), at: info + InfoOffset.modsAddr)
        memory.store(UInt32(memoryMapLength), at: info + InfoOffset.mmapLength)
        memory.store(UInt32(memoryMapAddress), at: info + InfoOffset.mmapAddr)
        memory.store(UInt32(bootLoaderNameAddress), at: info + InfoOffset.bootLoaderName)
    }

    /// mem_lower: KiB of usable RAM from address 0 (at most 640);
    /// mem_upper: KiB of usable RAM from 1 MiB up to the first hole.
    public static func memorySizes(_ map: PhysicalMemoryMap) -> (lower: UInt32, upper: UInt32) {
        map.regions.withElements { regions in
            var lower: UInt64 = 0, upper: UInt64 = 0
            for region in regions where region.type == .usable {
                if region.range.start == 0 { lower = min(region.range.end, 0xA_0000) }
                if region.range.contains(0x10_0000) { upper = region.range.end - 0x10_0000 }
            }
            return (UInt32(lower / 1024), UInt32(truncatingIfNeeded: upper / 1024))
        }
    }
}

/// The register state at a Multiboot kernel's entry.
///
/// Multiboot 0.6.96, "Machine state": EAX = 0x2BADB002, EBX = the info
/// structure's physical address; CS a flat 32-bit read/execute segment,
/// DS/ES/FS/GS/SS flat read/write; A20 on; CR0.PE = 1, CR0.PG = 0;
/// EFLAGS.VM = 0, EFLAGS.IF = 0; ESP, GDTR and IDTR undefined (the OS sets
/// its own).
public struct MultibootEntry: Equatable, Sendable {
    public static let bootloaderMagic: UInt32 = 0x2BAD_B002

    public var instructionPointer: UInt32
    public var infoAddress: UInt32
    public var eax: UInt32 { Self.bootloaderMagic }
    public var ebx: UInt32 { infoAddress }
}
