import FuzzSupport
import Loader

/// The payload manifest (Sources/Loader/PayloadManifest+Parsing.swift):
/// `PayloadManifest.validate` over the input as a whole payload, with the
/// hypervisor's expected load address.
///
/// Input: one mode byte, then the payload. Mode bit 0 set: the harness
/// rewrites the header CRC (and bit 1: every entry's CRC) before parsing,
/// so the fuzzer reaches the layout checks behind the checksums.
public func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size >= 1, let data else { return 0 }
    let mode = data[0]
    var payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if mode & 1 != 0 { fixHeaderChecksum(&payload) }
    if mode & 2 != 0 { fixEntryChecksums(&payload) }
    payload.withUnsafeBytes { bytes in
        do throws(ManifestError) {
            let manifest = try PayloadManifest.validate(
                bytes, expectedLoadAddress: BootLayout.payloadBase, skippingHypervisor: mode & 4 != 0)
            // What validate promises: every entry inside the payload and the
            // header, disjoint; the entry point inside the hypervisor.
            fuzzCheck(manifest.totalSize <= UInt64(bytes.count), "total size beyond the payload")
            for entry in manifest.entries {
                fuzzCheck(entry.end >= entry.offset && entry.end <= manifest.totalSize, "entry outside the payload")
            }
            _ = manifest.entry(.linuxKernel)
        } catch {
            _ = error.message
        }
    }
    return 0
}

let headerSize = 64, entrySize = 32, checksumOffset = 40

func load32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
}

func load64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
}

func store32(_ value: UInt32, _ bytes: inout [UInt8], _ at: Int) {
    for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
}

/// CRC-32 of the declared header (entry count from offset 10), field zeroed.
func fixHeaderChecksum(_ bytes: inout [UInt8]) {
    guard bytes.count >= headerSize else { return }
    let count = Int(bytes[10]) | Int(bytes[11]) << 8
    let end = min(headerSize + count * entrySize, bytes.count)
    store32(0, &bytes, checksumOffset)
    let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
    store32(crc, &bytes, checksumOffset)
}

/// Each entry's CRC over its bytes, where they lie inside the input; then
/// the header CRC again.
func fixEntryChecksums(_ bytes: inout [UInt8]) {
    guard bytes.count >= headerSize else { return }
    let count = Int(bytes[10]) | Int(bytes[11]) << 8
    for index in 0..<count {
        let base = headerSize + index * entrySize
        guard base + entrySize <= bytes.count else { break }
        let offset = load64(bytes, base + 8), size = load64(bytes, base + 16)
        let (end, overflow) = offset.addingReportingOverflow(size)
        guard !overflow, end <= UInt64(bytes.count) else { continue }
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(end)])) }
        store32(crc, &bytes, base + 24)
    }
    fixHeaderChecksum(&bytes)
}
