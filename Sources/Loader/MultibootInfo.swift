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
/// the entry state.
///
/// Multiboot Specification 0.6.96, "Boot information format": the info
/// structure and everything it points to sit in `LinuxBootLayout`'s boot
/// data area (the same addresses as Linux's boot_params and command line):
///
///     0x80000  multiboot_info (116 bytes; the page is zeroed)
///     0x80100  memory map, 24-byte entries {size = 20, base, length, type}
///     0x80D00  module list, 16-byte entries {mod_start, mod_end, string, 0}
///     0x81000  command line, boot loader name, module command lines
public struct MultibootPlan: Equatable, Sendable {
    public enum Layout {
        public static let info: UInt64 = LinuxBootLayout.bootParams
        public static let memoryMap: UInt64 = info + 0x100
        public static let modules: UInt64 = memoryMap + UInt64(PhysicalMemoryMap.capacity * memoryMapEntrySize)
        public static let strings: UInt64 = LinuxBootLayout.commandLine
        public static let stringsCapacity = Int(LinuxBootLayout.commandLineCapacity)
        public static let maximumModules = Int(info + LinuxBootLayout.bootParamsSize - modules) / moduleEntrySize
        public static let memoryMapEntrySize = 24
        public static let moduleEntrySize = 16
        /// The boot data area, which the image must not overlap.
        public static let bootData = PhysicalRange(start: LinuxBootLayout.pageTables.start, end: 0x9_0000)
    }

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
    public var commandLineAddress: UInt64
    public var bootLoaderNameAddress: UInt64
    /// Address of each module's command line, in order.
    public var moduleCommandLines: BoundedArray<48, PhysicalRange>

    public init(
        image: MultibootImage, commandLine: UnsafeRawBufferPointer, modules inputs: [MultibootModule],
        memoryMap: PhysicalMemoryMap
    ) throws(MultibootError) {
        self.image = image
        try image.segments.withElements { (segments) throws(MultibootError) in
            for segment in segments {
                let range = segment.range
                guard !range.overlaps(Layout.bootData) else {
                    throw .overlapsBootData(start: range.start, end: range.end)
                }
                guard memoryMap.contains(range, type: .usable) else {
                    throw .notInUsableRAM(start: range.start, end: range.end)
                }
            }
        }
        guard inputs.count <= Layout.maximumModules else {
            throw .tooManyModules(count: inputs.count, maximum: Layout.maximumModules)
        }
        guard memoryMap.contains(PhysicalRange(start: Layout.info, end: Layout.strings + UInt64(Layout.stringsCapacity)), type: .usable)
        else { throw .notInUsableRAM(start: Layout.info, end: Layout.strings + UInt64(Layout.stringsCapacity)) }

        // Strings: command line, loader name, module command lines, each
        // NUL-terminated.
        var cursor = Layout.strings
        func place(_ length: Int) -> PhysicalRange {
            defer { cursor += UInt64(length) + 1 }
            return PhysicalRange(start: cursor, length: UInt64(length))
        }
        commandLineAddress = place(commandLine.count).start
        bootLoaderNameAddress = place(Self.bootLoaderName.utf8CodeUnitCount).start
        self.modules = BoundedArray()
        moduleCommandLines = BoundedArray()
        for module in inputs {
            do throws(CapacityExceeded) { try moduleCommandLines.append(place(module.commandLine.count)) } catch {
                fatalError("unreachable: count checked")
            }
        }
        let used = Int(cursor - Layout.strings)
        guard used <= Layout.stringsCapacity else {
            throw .commandLinesTooLong(bytes: used, capacity: Layout.stringsCapacity)
        }

        // Modules: page-aligned (whether or not flags bit 0 asks), lowest
        // usable RAM above the image, and below 4 GiB: mod_start and mod_end
        // (exclusive) are 32-bit fields.
        var floor = max(image.range.end, LinuxBootLayout.highMemoryStart)
        for (index, module) in inputs.enumerated() {
            let size = UInt64(module.bytes.count)
            guard let start = LinuxBootPlan.lowestFit(size: max(size, 1), alignment: Page.size, floor: floor, in: memoryMap),
                start + size <= UInt64(UInt32.max)
            else { throw .moduleDoesNotFit(index: index, size: size) }
            do throws(CapacityExceeded) { try self.modules.append(PhysicalRange(start: start, length: size)) } catch {
                fatalError("unreachable: count checked")
            }
            floor = start + size
        }
    }

    /// Entry state: "Machine state" in the specification.
    public var entry: MultibootEntry {
        MultibootEntry(instructionPointer: image.entryPoint, infoAddress: UInt32(Layout.info))
    }

    /// Copies the image segments (zeroing their bss), the modules and the
    /// strings, and writes the info structure, memory map and module list.
    /// Pass the same inputs as to `init`.
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
        memory.storeZeros(count: LinuxBootLayout.bootParamsSize, at: Layout.info)
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
            let entry = Layout.modules + UInt64(index * Layout.moduleEntrySize)
            memory.store(UInt32(place.start), at: entry)  // mod_start
            memory.store(UInt32(place.end), at: entry + 4)  // mod_end (exclusive)
            memory.store(UInt32(line.start), at: entry + 8)  // string
            memory.store(UInt32(0), at: entry + 12)  // reserved
        }

        // "mmap_addr ... each entry: size (of the rest, 20), base_addr,
        // length, type"; type 1 is available RAM, 3 ACPI, 4 preserve on
        // hibernation, 5 defective, anything else reserved.
        let mapLength = memoryMap.regions.withElements { regions in
            for (index, region) in regions.enumerated() {
                let entry = Layout.memoryMap + UInt64(index * Layout.memoryMapEntrySize)
                memory.store(UInt32(Layout.memoryMapEntrySize - 4), at: entry)
                memory.store(region.range.start, at: entry + 4)
                memory.store(region.range.length, at: entry + 12)
                memory.store(region.type.rawValue, at: entry + 20)
            }
            return regions.count * Layout.memoryMapEntrySize
        }

        let info = Layout.info
        var flags: InfoFlags = [.memory, .commandLine, .memoryMap, .bootLoaderName]
        if !inputs.isEmpty { flags.insert(.modules) }
        memory.store(flags.rawValue, at: info + InfoOffset.flags)
        let (lower, upper) = Self.memorySizes(memoryMap)
        memory.store(lower, at: info + InfoOffset.memLower)
        memory.store(upper, at: info + InfoOffset.memUpper)
        memory.store(UInt32(commandLineAddress), at: info + InfoOffset.cmdline)
        memory.store(UInt32(inputs.count), at: info + InfoOffset.modsCount)
        memory.store(UInt32(Layout.modules), at: info + InfoOffset.modsAddr)
        memory.store(UInt32(mapLength), at: info + InfoOffset.mmapLength)
        memory.store(UInt32(Layout.memoryMap), at: info + InfoOffset.mmapAddr)
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
