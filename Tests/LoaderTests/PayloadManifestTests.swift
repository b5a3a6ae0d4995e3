import Testing
@testable import Loader

/// A payload like the image builder writes: hypervisor + two blobs.
private func samplePayload() -> (PayloadManifest, [UInt8]) {
    let hypervisor = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let kernel = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
    let cmdline = Array("console=ttyS0\0".utf8)
    return PayloadBuilder.build(
        blobs: [
            .init(kind: .hypervisor, bytes: hypervisor, memorySize: 0x3000),
            .init(kind: .linuxKernel, bytes: kernel),
            .init(kind: .commandLine, bytes: cmdline),
        ],
        entryPoint: BootLayout.hypervisorLoadAddress, loadAddress: BootLayout.payloadBase)
}

private func validate(_ bytes: [UInt8]) throws(ManifestError) -> PayloadManifest {
    var result: Result<PayloadManifest, ManifestError>!
    bytes.withUnsafeBytes { raw in
        result = Result { () throws(ManifestError) in
            try PayloadManifest.validate(raw, expectedLoadAddress: BootLayout.payloadBase)
        }
    }
    return try result.get()
}

private func expectError(_ expected: ManifestError, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(throws: expected, sourceLocation: sourceLocation) { try validate(bytes) }
}

/// Rewrites the header CRC after a deliberate edit, so that the check under
/// test is the one that fires, not the header checksum.
private func resealed(_ bytes: [UInt8]) -> [UInt8] {
    var copy = bytes
    let size = Int(UInt32(copy[12]) | UInt32(copy[13]) << 8)
    let crc = copy.withUnsafeBytes { PayloadManifest.headerChecksum(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
    for i in 0..<4 { copy[40 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    return copy
}

private func poke<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T, at offset: Int) {
    withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
}

@Test func builtPayloadRoundTrips() throws {
    let (manifest, bytes) = samplePayload()
    let parsed = try validate(bytes)
    #expect(parsed == manifest)
    #expect(parsed.entries.count == 3)
    #expect(parsed.entries[0].offset == 0x1000, "hypervisor on the page after the manifest")
    #expect(parsed.entries[1].offset == 0x4000, "kernel after the hypervisor's memory size (0x3000), page-aligned")
    #expect(parsed.entries[2].offset == 0x5000)
    #expect(parsed.totalSize == UInt64(bytes.count))
    #expect(parsed.entry(.commandLine)?.size == 14)
    #expect(parsed.entry(.initrd) == nil)
}

@Test func headerMatchesTheLayoutStage2Reads() {
    let (_, bytes) = samplePayload()
    #expect(Array(bytes[0..<8]) == Array("PXHVPAYL".utf8))
    #expect(bytes[8] == 1 && bytes[9] == 0, "version at offset 8")
    #expect(bytes[32..<40] == [0x00, 0x00, 0x20, 0, 0, 0, 0, 0][...], "load address 0x200000 at offset 32")
}

@Test func truncatedHeader() {
    let (_, bytes) = samplePayload()
    expectError(.truncated(needed: 64, available: 40), Array(bytes[0..<40]))
}

@Test func truncatedEntryTable() {
    let (_, bytes) = samplePayload()
    expectError(.truncated(needed: 160, available: 100), Array(bytes[0..<100]))
}

@Test func truncatedPayloadBody() {
    let (manifest, bytes) = samplePayload()
    expectError(.truncated(needed: manifest.totalSize, available: 0x4800), Array(bytes[0..<0x4800]))
}

@Test func badMagic() {
    var (_, bytes) = samplePayload()
    bytes[0] = UInt8(ascii: "Q")
    expectError(.badMagic(found: 0x4C59_4150_5648_5851), bytes)
}

@Test func unknownVersion() {
    var (_, bytes) = samplePayload()
    poke(&bytes, UInt16(2), at: 8)
    expectError(.unsupportedVersion(2), resealed(bytes))
}

@Test func headerSizeDisagreesWithEntryCount() {
    var (_, bytes) = samplePayload()
    poke(&bytes, UInt32(64 + 32 * 2), at: 12)
    expectError(.badHeaderSize(128), bytes)
}

@Test func headerChecksumMismatch() {
    var (_, bytes) = samplePayload()
    let stored = UInt32(bytes[40]) | UInt32(bytes[41]) << 8 | UInt32(bytes[42]) << 16 | UInt32(bytes[43]) << 24
    bytes[80] ^= 0xFF  // an entry's size field
    let computed = bytes.withUnsafeBytes { PayloadManifest.headerChecksum(UnsafeRawBufferPointer(rebasing: $0[0..<160])) }
    expectError(.headerChecksumMismatch(stored: stored, computed: computed), bytes)
}

@Test func wrongLoadAddress() {
    var (_, bytes) = samplePayload()
    poke(&bytes, UInt64(0x100000), at: 32)
    expectError(.badLoadAddress(found: 0x100000, expected: 0x200000), resealed(bytes))
}

@Test func unknownEntryKind() {
    var (_, bytes) = samplePayload()
    poke(&bytes, UInt32(99), at: 64 + 32)
    expectError(.unknownKind(index: 1, kind: 99), resealed(bytes))
}

@Test func entryOutsideThePayload() {
    var (manifest, bytes) = samplePayload()
    poke(&bytes, manifest.totalSize, at: 64 + 32 * 2 + 8)
    expectError(.entryOutOfRange(index: 2, offset: manifest.totalSize, size: 14, totalSize: manifest.totalSize), resealed(bytes))
    manifest.entries[2].offset = 0x10  // inside the header
    poke(&bytes, UInt64(0x10), at: 64 + 32 * 2 + 8)
    expectError(.entryOutOfRange(index: 2, offset: 0x10, size: 14, totalSize: manifest.totalSize), resealed(bytes))
}

@Test func entrySizeThatWrapsAround() {
    let (manifest, original) = samplePayload()
    var bytes = original
    poke(&bytes, UInt64.max - 0x10, at: 64 + 32 + 16)
    expectError(.entryOutOfRange(index: 1, offset: 0x4000, size: UInt64.max - 0x10, totalSize: manifest.totalSize), resealed(bytes))
}

@Test func overlappingEntries() {
    var (_, bytes) = samplePayload()
    poke(&bytes, UInt64(0x1800), at: 64 + 32 + 8)  // kernel starts inside the hypervisor
    expectError(.entriesOverlap(first: 0, second: 1), resealed(bytes))
}

@Test func missingHypervisor() {
    var (_, bytes) = samplePayload()
    poke(&bytes, PayloadKind.testGuest.rawValue, at: 64)
    expectError(.missingHypervisor, resealed(bytes))
}

@Test func entryPointOutsideTheHypervisor() {
    var (_, bytes) = samplePayload()
    poke(&bytes, UInt64(0x204000), at: 24)
    expectError(.entryPointOutsideHypervisor(0x204000), resealed(bytes))
}

@Test func corruptEntryBytes() {
    let (manifest, original) = samplePayload()
    var bytes = original
    bytes[Int(manifest.entries[1].offset) + 100] ^= 0x01
    let computed = bytes.withUnsafeBytes {
        CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[Int(manifest.entries[1].offset)..<Int(manifest.entries[1].end)]))
    }
    expectError(.checksumMismatch(index: 1, stored: manifest.entries[1].checksum, computed: computed), bytes)
}

@Test func everyErrorHasItsOwnMessage() {
    let errors: [ManifestError] = [
        .truncated(needed: 64, available: 1), .badMagic(found: 1), .unsupportedVersion(2), .badHeaderSize(3),
        .headerChecksumMismatch(stored: 1, computed: 2), .badLoadAddress(found: 1, expected: 2),
        .unknownKind(index: 0, kind: 9), .entryOutOfRange(index: 0, offset: 1, size: 2, totalSize: 3),
        .entriesOverlap(first: 0, second: 1), .missingHypervisor, .entryPointOutsideHypervisor(1),
        .checksumMismatch(index: 0, stored: 1, computed: 2),
    ]
    let messages = errors.map(\.message)
    #expect(Set(messages).count == errors.count)
    for message in messages {
        #expect(message.hasPrefix("payload: "))
        #expect(!message.contains("\n"))
    }
}

@Test func runningHypervisorSkipsOnlyItsOwnChecksum() throws {
    let (manifest, original) = samplePayload()
    var bytes = original
    bytes[Int(manifest.entries[0].offset) + 10] ^= 0xFF  // live .data of the running hypervisor
    try bytes.withUnsafeBytes { raw in
        _ = try PayloadManifest.validate(raw, expectedLoadAddress: BootLayout.payloadBase, skippingHypervisor: true)
    }
    bytes[Int(manifest.entries[1].offset)] ^= 0xFF  // a guest blob is still checked
    bytes.withUnsafeBytes { raw in
        #expect(throws: ManifestError.self) {
            try PayloadManifest.validate(raw, expectedLoadAddress: BootLayout.payloadBase, skippingHypervisor: true)
        }
    }
}

@Test func hostileGuestKind() {
    #expect(PayloadKind.hostileGuest.rawValue == 6)
    #expect(PayloadKind.hostileGuest.isKnown)
    #expect("\(PayloadKind.hostileGuest.name)" == "hostile-guest")
    #expect(!PayloadKind(rawValue: 11).isKnown)
}

@Test func biosAndMultibootKinds() {
    for (kind, raw, name): (PayloadKind, UInt32, String) in [
        (.diskImage, 7, "disk-image"), (.multibootKernel, 8, "multiboot-kernel"),
        (.multibootModule, 9, "multiboot-module"), (.multibootModuleString, 10, "multiboot-module-string"),
    ] {
        #expect(kind.rawValue == raw && kind.isKnown && "\(kind.name)" == name)
    }
    #expect(!PayloadKind(rawValue: 0).isKnown && !PayloadKind(rawValue: 11).isKnown)
}
