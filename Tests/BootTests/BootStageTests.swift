import BootStages
import Foundation
import Loader
import Testing

/// `NAME equ VALUE` lines of Boot/layout.inc whose value is a plain number.
private func layoutConstants() throws -> [String: UInt64] {
    var constants: [String: UInt64] = [:]
    for line in try BootStages.layoutSource().split(separator: "\n") {
        let code = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let words = code.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 3, words[1] == "equ" else { continue }
        let text = String(words[2])
        let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        if let value { constants[String(words[0])] = value }
    }
    return constants
}

@Test func stage1IsABootSector() throws {
    let stage1 = try BootStages.binary("stage1")
    #expect(stage1.count == 512)
    #expect(stage1[510] == 0x55 && stage1[511] == 0xAA)
    // -boot-info-table writes bytes 8..63: stage 1 must jump over them.
    #expect(stage1[0] == 0xEB || stage1[0] == 0xE9, "stage 1 starts with a jmp over the boot-info table")
    #expect(stage1[8..<64].allSatisfy { $0 == 0 }, "bytes 8..63 are left for the El Torito boot-info table")
}

@Test func stage2FitsItsSlot() throws {
    let stage2 = try BootStages.binary("stage2")
    #expect(stage2.count > 0)
    #expect(UInt64(stage2.count) <= BootLayout.stage2MaxSize)
}

@Test func layoutConstantsAgreeWithSwift() throws {
    let c = try layoutConstants()
    let expected: [(String, UInt64)] = [
        ("IMAGE_STAGE2_OFFSET", BootLayout.imageStage2Offset),
        ("IMAGE_PAYLOAD_OFFSET", BootLayout.imagePayloadOffset),
        ("BOOTINFO_ADDRESS", BootLayout.bootInfoAddress),
        ("PAGE_TABLES_ADDRESS", BootLayout.pageTablesAddress),
        ("PAGE_TABLES_MAX_SIZE", BootLayout.pageTablesMaxSize),
        ("LOW_RESERVED_END", BootLayout.lowReservedEnd),
        ("PAYLOAD_BASE", BootLayout.payloadBase),
        ("PAYLOAD_MAGIC_LO", PayloadManifest.magic & 0xFFFF_FFFF),
        ("PAYLOAD_MAGIC_HI", PayloadManifest.magic >> 32),
        ("PAYLOAD_VERSION", UInt64(PayloadManifest.currentVersion)),
        ("MANIFEST_VERSION", 8),
        ("MANIFEST_ENTRY_COUNT", 10),
        ("MANIFEST_HEADER_SIZE", 12),
        ("MANIFEST_TOTAL_SIZE", 16),
        ("MANIFEST_ENTRY_POINT", 24),
        ("MANIFEST_LOAD_ADDRESS", 32),
        ("BOOTINFO_MAGIC", UInt64(BootInfo.magic)),
        ("BOOTINFO_VERSION", UInt64(BootInfo.currentVersion)),
        ("BI_MAGIC", BootInfo.Offset.magic),
        ("BI_VERSION", BootInfo.Offset.version),
        ("BI_BOOT_DRIVE", BootInfo.Offset.bootDrive),
        ("BI_FLAGS", BootInfo.Offset.flags),
        ("BI_PAYLOAD_BASE", BootInfo.Offset.payloadBase),
        ("BI_PAYLOAD_SIZE", BootInfo.Offset.payloadSize),
        ("BI_BYTES_PER_SECTOR", BootInfo.Offset.bytesPerSector),
        ("BI_E820_COUNT", BootInfo.Offset.e820Count),
        ("BI_PAGE_TABLES_BASE", BootInfo.Offset.pageTablesBase),
        ("BI_PAGE_TABLES_SIZE", BootInfo.Offset.pageTablesSize),
        ("BI_IDENTITY_MAPPED_TOP", BootInfo.Offset.identityMappedTop),
        ("BI_E820_ENTRIES", BootInfo.Offset.e820Entries),
        ("BI_TSC_STAGE1", BootInfo.Offset.tscStage1),
        ("BI_TSC_STAGE2", BootInfo.Offset.tscStage2),
        ("BI_TSC_HANDOFF", BootInfo.Offset.tscHandoff),
        ("BI_TSC_DISK", BootInfo.Offset.tscDisk),
        ("BI_TSC_SERIAL", BootInfo.Offset.tscSerial),
        ("BOOTINFO_SIZE", BootInfo.Offset.tscSerial + 8),
        ("E820_ENTRY_SIZE", UInt64(BootLayout.e820EntrySize)),
        ("E820_MAX_ENTRIES", UInt64(BootLayout.e820MaxEntries)),
    ]
    for (name, value) in expected {
        #expect(c[name] == value, "\(name) in layout.inc is \(c[name].map { String($0, radix: 16) } ?? "missing"), Swift says 0x\(String(value, radix: 16))")
    }
    #expect(BootLayout.bootInfoAddress + UInt64(64 + BootLayout.e820MaxEntries * BootLayout.e820EntrySize) <= 0x2000,
            "BootInfo fits its page")
    #expect(BootInfo.Offset.tscStage1 >= BootInfo.Offset.e820Entries + UInt64(BootLayout.e820MaxEntries * BootLayout.e820EntrySize),
            "the timeline follows the E820 array")
    #expect(BootInfo.Offset.tscSerial + 8 <= 0x1000, "BootInfo fits its page")
    #expect(BootLayout.hypervisorLoadAddress == BootLayout.payloadBase + 0x1000)
}

/// The manifest offsets stage 2 reads must be where the builder writes.
@Test func stage2ManifestOffsetsMatchTheBuilder() throws {
    let c = try layoutConstants()
    let (manifest, bytes) = PayloadBuilder.build(
        blobs: [.init(kind: .hypervisor, bytes: [0xF4, 0xEB, 0xFD], memorySize: 0x2000)],
        entryPoint: BootLayout.hypervisorLoadAddress, loadAddress: BootLayout.payloadBase)
    func u64(_ offset: UInt64?) -> UInt64 {
        guard let offset else { return .max }
        return (0..<8).reduce(0) { $0 | UInt64(bytes[Int(offset) + $1]) << (8 * UInt64($1)) }
    }
    #expect(u64(c["MANIFEST_TOTAL_SIZE"]) == manifest.totalSize)
    #expect(u64(c["MANIFEST_ENTRY_POINT"]) == BootLayout.hypervisorLoadAddress)
    #expect(u64(c["MANIFEST_LOAD_ADDRESS"]) == BootLayout.payloadBase)
    #expect(u64(0) == PayloadManifest.magic)
}

/// The linker script links the hypervisor where the builder places it.
@Test func linkerScriptAddressMatchesTheLayout() throws {
    let script = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/BootTests/BootStageTests.swift", with: "Boot/hypervisor.ld"), encoding: .utf8)
    #expect(script.contains(". = 0x\(String(BootLayout.hypervisorLoadAddress, radix: 16));"))
}
