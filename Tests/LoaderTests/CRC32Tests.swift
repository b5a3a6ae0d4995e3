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
