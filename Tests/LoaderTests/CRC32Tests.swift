import Testing
@testable import Loader

@Test func crc32KnownVectors() {
    // The standard check value of CRC-32/ISO-HDLC (as zlib's crc32()).
    #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(CRC32.checksum([]) == 0)
    #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
}

@Test func crc32Incremental() {
    let bytes = Array("hello, hypervisor".utf8)
    var crc = CRC32()
    bytes[0..<5].withUnsafeBytes { crc.update($0) }
    bytes[5...].withUnsafeBytes { crc.update($0) }
    #expect(crc.value == CRC32.checksum(bytes))
}

/// The byte-at-a-time definition the sliced loop must agree with: every
/// length around the 8-byte steps, every start alignment.
@Test func crc32SlicedAgreesWithTheBytewiseDefinition() {
    func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    let bytes = (0..<4200).map { _ -> UInt8 in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
    for start in 0..<8 {
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096] {
            let slice = bytes[start..<start + length]
            let sliced = slice.withUnsafeBytes { CRC32.checksum($0) }
            #expect(sliced == reference(slice), "start \(start), length \(length)")
        }
    }
    // Split anywhere, the running CRC is the same.
    var crc = CRC32()
    bytes[0..<13].withUnsafeBytes { crc.update($0) }
    bytes[13..<4000].withUnsafeBytes { crc.update($0) }
    bytes[4000...].withUnsafeBytes { crc.update($0) }
    #expect(crc.value == reference(bytes[...]))
}
