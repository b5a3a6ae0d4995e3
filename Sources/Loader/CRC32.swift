/// CRC-32 as used by zlib, PNG and Ethernet (IEEE 802.3): reflected
/// polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
///
/// The payload manifest uses it for its header and for every entry, so the
/// image builder (hosted) and the hypervisor (embedded) share this code.
public struct CRC32 {
    private var state: UInt32 = 0xFFFF_FFFF

    /// The CRC of everything passed to `update` so far.
    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    public init() {}

    /// The CRC of `bytes` in one call.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        Self.table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        state = crc
    }

    /// One entry per byte value: the CRC of that byte alone, unreflected
    /// state. Built once; 1 KiB.
    private static let table: [UInt32] = (0..<256).map { (index: Int) -> UInt32 in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
        }
        return crc
    }
}
