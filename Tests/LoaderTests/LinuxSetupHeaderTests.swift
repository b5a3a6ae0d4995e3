import EPT
import Testing
@testable import Loader

/// Offsets from Documentation/arch/x86/boot.rst ("The Real-Mode Kernel
/// Header", the table) and Documentation/arch/x86/zero-page.rst, typed in
/// from the documents: (name as in the document, document offset, ours).
@Test func fieldOffsetsMatchBootProtocolDocuments() {
    typealias H = LinuxSetupHeader.Offset
    typealias Z = LinuxBootParams.Offset
    let table: [(String, Int, Int)] = [
        ("setup_sects", 0x1F1, H.setupSects), ("root_flags", 0x1F2, H.rootFlags),
        ("syssize", 0x1F4, H.sysSize), ("vid_mode", 0x1FA, H.vidMode),
        ("boot_flag", 0x1FE, H.bootFlag), ("jump", 0x200, H.jump), ("header", 0x202, H.header),
        ("version", 0x206, H.version), ("type_of_loader", 0x210, H.typeOfLoader),
        ("loadflags", 0x211, H.loadFlags), ("code32_start", 0x214, H.code32Start),
        ("ramdisk_image", 0x218, H.ramdiskImage), ("ramdisk_size", 0x21C, H.ramdiskSize),
        ("heap_end_ptr", 0x224, H.heapEndPtr), ("cmd_line_ptr", 0x228, H.cmdLinePtr),
        ("initrd_addr_max", 0x22C, H.initrdAddrMax), ("kernel_alignment", 0x230, H.kernelAlignment),
        ("relocatable_kernel", 0x234, H.relocatableKernel), ("min_alignment", 0x235, H.minAlignment),
        ("xloadflags", 0x236, H.xloadflags), ("cmdline_size", 0x238, H.cmdlineSize),
        ("payload_offset", 0x248, H.payloadOffset), ("payload_length", 0x24C, H.payloadLength),
        ("pref_address", 0x258, H.prefAddress), ("init_size", 0x260, H.initSize),
        ("handover_offset end", 0x268, H.end),
        ("acpi_rsdp_addr", 0x070, Z.acpiRSDPAddress),
        ("ext_ramdisk_image", 0x0C0, Z.extRamdiskImage), ("ext_ramdisk_size", 0x0C4, Z.extRamdiskSize),
        ("ext_cmd_line_ptr", 0x0C8, Z.extCmdLinePtr), ("e820_entries", 0x1E8, Z.e820Entries),
        ("sentinel", 0x1EF, Z.sentinel), ("hdr", 0x1F1, Z.setupHeader), ("e820_table", 0x2D0, Z.e820Table),
    ]
    for (name, documented, ours) in table {
        #expect(ours == documented, "\(name): 0x\(String(ours, radix: 16)) != 0x\(String(documented, radix: 16))")
    }
    // e820_table holds E820_MAX_ENTRIES_ZEROPAGE (128) 20-byte entries and
    // ends at 0xCD0, where eddbuf starts (zero-page.rst).
    #expect(Z.e820Table + LinuxBootParams.e820MaxEntries * LinuxBootParams.e820EntrySize == 0xCD0)
    #expect(LoadFlags.loadedHigh.rawValue == 0x01 && LoadFlags.canUseHeap.rawValue == 0x80)
    #expect(XLoadFlags.kernel64.rawValue == 0x01 && XLoadFlags.canBeLoadedAbove4G.rawValue == 0x02)
}

@Test func parsesSyntheticHeader() throws {
    var image = Fixture.BzImage()
    image.setupSects = 0  // means 4
    let header = try Fixture.parse(image.bytes)
    #expect(header.setupSectors == 4)
    #expect(header.protectedModeOffset == 5 * 512)
    #expect(header.version == 0x020F && header.versionMajor == 2 && header.versionMinor == 15)
    #expect(header.xloadflags.contains(.kernel64))
    #expect(header.isRelocatable)
    #expect(header.kernelAlignment == 0x20_0000 && header.minAlignmentShift == 21)
    #expect(header.prefAddress == 0x100_0000 && header.initSize == 0x400_0000)
    #expect(header.cmdlineSize == 2047 && header.initrdAddrMax == 0x7FFF_FFFF)
    #expect(header.headerEnd == 0x26C)
}

@Test func rejectsImageWithoutBootFlag() {
    var image = Fixture.BzImage()
    image.bootFlag = 0x1234
    #expect(throws: LinuxBootError.notBzImage(.noBootFlag(found: 0x1234))) { try Fixture.parse(image.bytes) }
}

@Test func rejectsImageWithoutHdrS() {
    var image = Fixture.BzImage()
    image.magic = 0x5372_6449  // "IdrS": one bit flipped
    #expect(throws: LinuxBootError.notBzImage(.noHdrS(found: 0x5372_6449))) { try Fixture.parse(image.bytes) }
}

@Test func rejectsProtocol2_09() {
    var image = Fixture.BzImage()
    image.version = 0x0209
    #expect(throws: LinuxBootError.protocolTooOld(version: 0x0209)) { try Fixture.parse(image.bytes) }
    #expect(LinuxBootError.protocolTooOld(version: 0x0209).message.contains("2.9 too old"))
}

@Test func rejectsZImageAndTruncatedFiles() {
    var image = Fixture.BzImage()
    image.loadFlags = 0
    #expect(throws: LinuxBootError.notBzImage(.notLoadedHigh)) { try Fixture.parse(image.bytes) }
    #expect(throws: LinuxBootError.notBzImage(.truncated(size: 0x200))) {
        try Fixture.parse(Array(Fixture.BzImage().bytes.prefix(0x200)))
    }
    #expect(throws: LinuxBootError.notBzImage(.truncated(size: 5 * 512))) {
        try Fixture.parse(Array(Fixture.BzImage().bytes.prefix(5 * 512)))  // setup only, no kernel
    }
}

@Test func everyErrorHasOneLineMessage() {
    let errors: [LinuxBootError] = [
        .notBzImage(.truncated(size: 1)), .notBzImage(.noBootFlag(found: 0)), .notBzImage(.noHdrS(found: 0)),
        .notBzImage(.notLoadedHigh), .notBzImage(.badHeaderLength(end: 0x202)), .protocolTooOld(version: 0x0200),
        .badAlignment(3), .entryModeUnsupported(.bits64), .entryModeUnsupported(.bits32),
        .notRelocatable(prefAddress: 0x100_0000, size: 0x100), .kernelDoesNotFit(size: 1, largestUsable: 0),
        .commandLineTooLong(length: 3000, maximum: 2047), .initrdAboveLimit(size: 1, limit: 2),
        .initrdTooLarge(size: 1, largestFree: 0), .lowMemoryUnavailable(start: 0, end: 1),
    ]
    for error in errors {
        #expect(error.message.hasPrefix("linux: ") && !error.message.contains("\n"))
    }
}
