/// Lays out and serializes a payload: what the image builder writes and
/// stage 2 loads at `BootLayout.payloadBase`.
public struct PayloadBuilder {
    /// A blob to place, with the room it needs in memory (`memorySize` >=
    /// its bytes: the hypervisor's .bss follows its file bytes and must not
    /// overlap the next entry).
    public struct Blob {
        public var kind: PayloadKind
        public var flags: UInt32
        public var bytes: [UInt8]
        public var memorySize: UInt64
        public init(kind: PayloadKind, flags: UInt32 = 0, bytes: [UInt8], memorySize: UInt64? = nil) {
            self.kind = kind
            self.flags = flags
            self.bytes = bytes
            self.memorySize = max(memorySize ?? 0, UInt64(bytes.count))
        }
    }

    public static let alignment: UInt64 = 0x1000

    /// Places `blobs` in order, each 4 KiB-aligned; the first must be the
    /// hypervisor, which lands on the page right after the manifest so its
    /// link address is `loadAddress + 0x1000`. `entryPoint` is absolute.
    public static func build(
        blobs: [Blob], entryPoint: UInt64, loadAddress: UInt64
    ) -> (manifest: PayloadManifest, bytes: [UInt8]) {
        let headerBytes = PayloadManifest.headerSize + blobs.count * PayloadManifest.entrySize
        precondition(headerBytes <= Int(alignment), "too many payload entries for one manifest page")
        var entries: [PayloadEntry] = []
        var cursor = alignment
        for blob in blobs {
            entries.append(
                PayloadEntry(
                    kind: blob.kind, flags: blob.flags, offset: cursor, size: UInt64(blob.bytes.count),
                    checksum: CRC32.checksum(blob.bytes)))
            cursor = align(cursor + blob.memorySize, to: alignment)
        }
        let total = entries.last?.end ?? UInt64(headerBytes)
        let manifest = PayloadManifest(
            totalSize: total, entryPoint: entryPoint, loadAddress: loadAddress, entries: entries)
        var bytes = [UInt8](repeating: 0, count: Int(total))
        manifest.serializeHeader(into: &bytes)
        for (blob, entry) in zip(blobs, entries) {
            bytes.replaceSubrange(Int(entry.offset)..<Int(entry.end), with: blob.bytes)
        }
        return (manifest, bytes)
    }

    static func align(_ value: UInt64, to alignment: UInt64) -> UInt64 {
        (value + alignment - 1) & ~(alignment - 1)
    }
}

extension PayloadManifest {
    /// Writes the header and entries (with a correct header CRC) at the start
    /// of `bytes`, which must hold at least the header.
    public func serializeHeader(into bytes: inout [UInt8]) {
        let size = Self.headerSize + entries.count * Self.entrySize
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { raw in
                for (i, byte) in raw.enumerated() { bytes[offset + i] = byte }
            }
        }
        for i in 0..<size { bytes[i] = 0 }
        put(Self.magic, 0)
        put(version, 8)
        put(UInt16(entries.count), 10)
        put(UInt32(size), 12)
        put(totalSize, 16)
        put(entryPoint, 24)
        put(loadAddress, 32)
        for (index, entry) in entries.enumerated() {
            let base = Self.headerSize + index * Self.entrySize
            put(entry.kind.rawValue, base)
            put(entry.flags, base + 4)
            put(entry.offset, base + 8)
            put(entry.size, base + 16)
            put(entry.checksum, base + 24)
        }
        let crc = bytes.withUnsafeBytes { Self.headerChecksum(UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
        put(crc, Self.checksumOffset)
    }
}
