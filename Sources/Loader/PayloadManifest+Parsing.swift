import Primitives

/// Why a payload cannot be trusted. Each case is a distinct failure with a
/// one-line message that names what is wrong and where.
public enum ManifestError: Error, Equatable {
    case truncated(needed: UInt64, available: UInt64)
    case badMagic(found: UInt64)
    case unsupportedVersion(UInt16)
    case badHeaderSize(UInt32)
    case headerChecksumMismatch(stored: UInt32, computed: UInt32)
    case badLoadAddress(found: UInt64, expected: UInt64)
    case unknownKind(index: Int, kind: UInt32)
    case entryOutOfRange(index: Int, offset: UInt64, size: UInt64, totalSize: UInt64)
    case entriesOverlap(first: Int, second: Int)
    case missingHypervisor
    case entryPointOutsideHypervisor(UInt64)
    case checksumMismatch(index: Int, stored: UInt32, computed: UInt32)

    public var message: Message {
        switch self {
        case .truncated(let needed, let available):
            Message(template: "payload: truncated: needs {dec} bytes, only {dec} present", needed, available)
        case .badMagic(let found):
            Message(template: "payload: bad magic {hex} (expected \"PXHVPAYL\")", found)
        case .unsupportedVersion(let version):
            Message(template: "payload: manifest version {dec} unsupported (this build reads {dec})",
                    UInt64(version), UInt64(PayloadManifest.currentVersion))
        case .badHeaderSize(let size):
            Message(template: "payload: manifest header size {dec} does not match its entry count", UInt64(size))
        case .headerChecksumMismatch(let stored, let computed):
            Message(template: "payload: manifest header checksum {hex} != computed {hex}", UInt64(stored), UInt64(computed))
        case .badLoadAddress(let found, let expected):
            Message(template: "payload: load address {hex}, expected {hex}", found, expected)
        case .unknownKind(let index, let kind):
            Message(template: "payload: entry {dec} has unknown kind {dec}",
                    UInt64(truncatingIfNeeded: index), UInt64(kind))
        case .entryOutOfRange(let index, let offset, let size, let totalSize):
            Message(template: "payload: entry {dec} [{hex}, +{dec}) lies outside the payload ({dec} bytes)",
                    UInt64(truncatingIfNeeded: index), offset, size, totalSize)
        case .entriesOverlap(let first, let second):
            Message(template: "payload: entries {dec} and {dec} overlap",
                    UInt64(truncatingIfNeeded: first), UInt64(truncatingIfNeeded: second))
        case .missingHypervisor:
            "payload: no hypervisor entry"
        case .entryPointOutsideHypervisor(let address):
            Message(template: "payload: entry point {hex} is outside the hypervisor entry", address)
        case .checksumMismatch(let index, let stored, let computed):
            Message(template: "payload: entry {dec} checksum {hex} != computed {hex}",
                    UInt64(truncatingIfNeeded: index), UInt64(stored), UInt64(computed))
        }
    }
}

extension PayloadManifest {
    /// Decodes and structurally checks the manifest at the start of `bytes`:
    /// magic, version, header size and CRC, load address, known kinds,
    /// entries inside the payload and disjoint, a hypervisor entry that
    /// contains the entry point. `bytes` may be just the header or the
    /// whole payload; entry checksums are checked by `validate(_:)`.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, expectedLoadAddress: UInt64
    ) throws(ManifestError) -> PayloadManifest {
        let available = UInt64(bytes.count)
        guard available >= UInt64(headerSize) else {
            throw .truncated(needed: UInt64(headerSize), available: available)
        }
        let magic = bytes.loadLE(UInt64.self, at: 0)
        guard magic == Self.magic else { throw .badMagic(found: magic) }
        let version = bytes.loadLE(UInt16.self, at: 8)
        guard version == currentVersion else { throw .unsupportedVersion(version) }
        let count = Int(bytes.loadLE(UInt16.self, at: 10))
        let declaredHeaderSize = bytes.loadLE(UInt32.self, at: 12)
        guard Int(declaredHeaderSize) == headerSize + count * entrySize else {
            throw .badHeaderSize(declaredHeaderSize)
        }
        guard available >= UInt64(declaredHeaderSize) else {
            throw .truncated(needed: UInt64(declaredHeaderSize), available: available)
        }
        let stored = bytes.loadLE(UInt32.self, at: checksumOffset)
        let computed = headerChecksum(UnsafeRawBufferPointer(rebasing: bytes[0..<Int(declaredHeaderSize)]))
        guard stored == computed else { throw .headerChecksumMismatch(stored: stored, computed: computed) }

        let loadAddress = bytes.loadLE(UInt64.self, at: 32)
        guard loadAddress == expectedLoadAddress else {
            throw .badLoadAddress(found: loadAddress, expected: expectedLoadAddress)
        }
        var manifest = PayloadManifest(
            version: version, totalSize: bytes.loadLE(UInt64.self, at: 16),
            entryPoint: bytes.loadLE(UInt64.self, at: 24), loadAddress: loadAddress, entries: [])
        manifest.entries.reserveCapacity(count)
        for index in 0..<count {
            let base = headerSize + index * entrySize
            let entry = PayloadEntry(
                kind: PayloadKind(rawValue: bytes.loadLE(UInt32.self, at: base)),
                flags: bytes.loadLE(UInt32.self, at: base + 4),
                offset: bytes.loadLE(UInt64.self, at: base + 8),
                size: bytes.loadLE(UInt64.self, at: base + 16),
                checksum: bytes.loadLE(UInt32.self, at: base + 24))
            guard entry.kind.isKnown else { throw .unknownKind(index: index, kind: entry.kind.rawValue) }
            manifest.entries.append(entry)
        }
        try manifest.checkLayout(headerSize: UInt64(declaredHeaderSize))
        return manifest
    }

    /// Entries must lie after the header, inside the payload, and must not
    /// overlap; the entry point must be inside the hypervisor entry.
    func checkLayout(headerSize: UInt64) throws(ManifestError) {
        for (index, entry) in entries.enumerated() {
            guard entry.offset >= headerSize, entry.end >= entry.offset, entry.end <= totalSize else {
                throw .entryOutOfRange(index: index, offset: entry.offset, size: entry.size, totalSize: totalSize)
            }
            for other in 0..<index {
                let earlier = entries[other]
                if entry.offset < earlier.end && earlier.offset < entry.end {
                    throw .entriesOverlap(first: other, second: index)
                }
            }
        }
        guard let hypervisor = entry(.hypervisor) else { throw .missingHypervisor }
        let start = loadAddress &+ hypervisor.offset
        guard entryPoint >= start, entryPoint < start &+ hypervisor.size else {
            throw .entryPointOutsideHypervisor(entryPoint)
        }
    }

    /// Parses and then checks every entry's CRC-32 over the whole `payload`.
    ///
    /// The running hypervisor passes `skippingHypervisor: true`: its own
    /// entry's bytes changed the moment it started (its .data is live), so
    /// stage 2 checks that entry's CRC before jumping to it.
    @discardableResult
    public static func validate(
        _ payload: UnsafeRawBufferPointer, expectedLoadAddress: UInt64, skippingHypervisor: Bool = false
    ) throws(ManifestError) -> PayloadManifest {
        let manifest = try parse(payload, expectedLoadAddress: expectedLoadAddress)
        guard UInt64(payload.count) >= manifest.totalSize else {
            throw .truncated(needed: manifest.totalSize, available: UInt64(payload.count))
        }
        for (index, entry) in manifest.entries.enumerated() where !(skippingHypervisor && entry.kind == .hypervisor) {
            let range = Int(entry.offset)..<Int(entry.end)
            let computed = CRC32.checksum(UnsafeRawBufferPointer(rebasing: payload[range]))
            guard computed == entry.checksum else {
                throw .checksumMismatch(index: index, stored: entry.checksum, computed: computed)
            }
        }
        return manifest
    }

    /// CRC-32 of a serialized header with its checksum field taken as zero.
    static func headerChecksum(_ header: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(UnsafeRawBufferPointer(rebasing: header[0..<checksumOffset]))
        let zero: UInt32 = 0
        withUnsafeBytes(of: zero) { crc.update($0) }
        crc.update(UnsafeRawBufferPointer(rebasing: header[(checksumOffset + 4)...]))
        return crc.value
    }
}
