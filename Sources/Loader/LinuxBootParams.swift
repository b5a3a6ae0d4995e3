import EPT
import Primitives

/// The `boot_params` page ("zero page") the kernel finds through RSI/ESI.
///
/// Linux boot protocol (Documentation/arch/x86/boot.rst), "64-bit Boot
/// Protocol": allocate it, zero it, copy the setup header from image offset
/// 0x1F1 up to 0x202 + the byte at 0x201, then fill the header fields a
/// loader writes and the fields of Documentation/arch/x86/zero-page.rst.
public enum LinuxBootParams {
    /// Offsets of the non-header fields: zero-page.rst (the table);
    /// checked against it by LoaderTests.
    public enum Offset {
        /// u64: the RSDP the kernel uses instead of searching the BIOS
        /// areas (zero-page.rst; read since Linux 5.0, after the header
        /// field of protocol 2.14 was withdrawn, boot.rst "Protocol 2.14").
        public static let acpiRSDPAddress = 0x070
        public static let extRamdiskImage = 0x0C0  // u32: high 32 bits
        public static let extRamdiskSize = 0x0C4  // u32
        public static let extCmdLinePtr = 0x0C8  // u32
        public static let e820Entries = 0x1E8  // u8: entries used in e820_table
        /// u8: the kernel zeroes fields it cannot trust when a loader left
        /// this nonzero (it copied a whole sector without zeroing).
        public static let sentinel = 0x1EF
        public static let setupHeader = 0x1F1
        public static let e820Table = 0x2D0  // 128 x struct boot_e820_entry
    }

    public static let size: UInt64 = 0x1000
    /// E820_MAX_ENTRIES_ZEROPAGE; equal to `PhysicalMemoryMap.capacity`, so
    /// every map fits.
    public static let e820MaxEntries = 128
    /// struct boot_e820_entry: u64 addr, u64 size, u32 type (packed).
    public static let e820EntrySize = 20

    /// type_of_loader 0xFF: "Special (0xFF = undefined)" (boot.rst, "Details
    /// of Header Fields", type_of_loader): pxHV has no assigned id.
    public static let typeOfLoaderUndefined: UInt8 = 0xFF
    /// heap_end_ptr: "the offset (from the beginning of the real-mode code)
    /// of the end of the setup stack/heap, minus 0x0200" (boot.rst, "Details
    /// of Header Fields"); 0xFE00 = a 64 KiB real-mode segment, as in
    /// boot.rst, "Sample Boot Configuration" (heap_end = 0xe000 there for a
    /// smaller one). The 32/64-bit entries skip the real-mode setup, so the
    /// value is only a well-formed default, with CAN_USE_HEAP saying it is set.
    public static let heapEndPtr: UInt16 = 0xFE00
    /// vid_mode 0xFFFF: "normal" (boot.rst, "Special Command Line Options").
    public static let vidModeNormal: UInt16 = 0xFFFF

    /// Writes boot_params for `plan` at `plan.bootParamsAddress`.
    ///
    /// - Parameters:
    ///   - image: the bzImage (at least its first `plan.header.headerEnd` bytes).
    ///   - memoryMap: the guest's map (hypervisor region reserved); becomes
    ///     the e820 table, one entry per region, in address order.
    public static func write<Memory: PhysicalMemory>(
        for plan: LinuxBootPlan, image: UnsafeRawBufferPointer, memoryMap: PhysicalMemoryMap,
        into memory: inout Memory
    ) {
        let base = plan.bootParamsAddress
        precondition(image.count >= plan.header.headerEnd, "image shorter than its setup header")
        memory.storeZeros(count: size, at: base)
        let header = UnsafeRawBufferPointer(rebasing: image[Offset.setupHeader..<plan.header.headerEnd])
        memory.storeBytes(header, at: base + UInt64(Offset.setupHeader))

        typealias Field = LinuxSetupHeader.Offset
        func at(_ offset: Int) -> UInt64 { base + UInt64(offset) }
        memory.store(vidModeNormal, at: at(Field.vidMode))
        memory.store(typeOfLoaderUndefined, at: at(Field.typeOfLoader))
        let flags = plan.header.loadFlags.union([.loadedHigh, .canUseHeap])
        memory.store(flags.rawValue, at: at(Field.loadFlags))
        memory.store(heapEndPtr, at: at(Field.heapEndPtr))
        memory.store(UInt32(truncatingIfNeeded: plan.loadAddress), at: at(Field.code32Start))
        memory.store(plan.kernelAlignment, at: at(Field.kernelAlignment))

        memory.store(UInt32(truncatingIfNeeded: plan.commandLineAddress), at: at(Field.cmdLinePtr))
        memory.store(UInt32(truncatingIfNeeded: plan.commandLineAddress >> 32), at: at(Offset.extCmdLinePtr))
        if let initrd = plan.initrd {
            memory.store(UInt32(truncatingIfNeeded: initrd.start), at: at(Field.ramdiskImage))
            memory.store(UInt32(truncatingIfNeeded: initrd.length), at: at(Field.ramdiskSize))
            memory.store(UInt32(truncatingIfNeeded: initrd.start >> 32), at: at(Offset.extRamdiskImage))
            memory.store(UInt32(truncatingIfNeeded: initrd.length >> 32), at: at(Offset.extRamdiskSize))
        }
        writeE820(memoryMap, at: base, into: &memory)
    }

    /// The guest's e820 table: one entry per region of `map`, which is
    /// sorted and non-overlapping already. Types pass through as they are
    /// (1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable, and any other the
    /// firmware reported, which Linux treats as reserved); the hypervisor's
    /// own region is in `map` as reserved (2).
    public static func writeE820<Memory: PhysicalMemory>(
        _ map: PhysicalMemoryMap, at base: UInt64, into memory: inout Memory
    ) {
        map.regions.withElements { regions in
            precondition(regions.count <= e820MaxEntries)
            for (index, region) in regions.enumerated() {
                let entry = base + UInt64(Offset.e820Table + index * e820EntrySize)
                memory.store(region.range.start, at: entry)
                memory.store(region.range.length, at: entry + 8)
                memory.store(region.type.rawValue, at: entry + 16)
            }
            memory.store(UInt8(regions.count), at: base + UInt64(Offset.e820Entries))
        }
    }
}

extension LinuxBootPlan {
    /// Copies the protected-mode kernel, the initrd and the command line
    /// (with its NUL) to their planned places and writes boot_params.
    /// Page tables for the 64-bit entry are the caller's
    /// (`GuestPageTables(identityMapping:at: LinuxBootLayout.pageTables.start, in:)`).
    ///
    /// - Parameters:
    ///   - image: the bzImage the plan was made for.
    ///   - initrd: the initrd, `initrd?.length` bytes (empty without one).
    ///   - commandLine: `commandLineLength` bytes, without a NUL.
    public func load<Memory: PhysicalMemory>(
        image: UnsafeRawBufferPointer, initrd initrdBytes: UnsafeRawBufferPointer,
        commandLine: UnsafeRawBufferPointer, memoryMap: PhysicalMemoryMap, into memory: inout Memory
    ) {
        precondition(image.count == protectedModeOffset + protectedModeSize, "not the planned image")
        precondition(UInt64(initrdBytes.count) == (initrd?.length ?? 0), "not the planned initrd")
        precondition(commandLine.count == commandLineLength, "not the planned command line")
        memory.storeBytes(UnsafeRawBufferPointer(rebasing: image[protectedModeOffset...]), at: loadAddress)
        if let initrd { memory.storeBytes(initrdBytes, at: initrd.start) }
        memory.storeBytes(commandLine, at: commandLineAddress)
        memory.store(UInt8(0), at: commandLineAddress + UInt64(commandLineLength))
        LinuxBootParams.write(for: self, image: image, memoryMap: memoryMap, into: &memory)
    }
}
