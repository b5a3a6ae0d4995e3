/// The fuzzer's bytes, read front to back as little-endian fields. Reading
/// past the end gives zeros, so every input decodes to something.
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: size)
    }

    public var remaining: Int { bytes.count - position }
    public var isAtEnd: Bool { position >= bytes.count }

    public mutating func take<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size {
            if position < bytes.count { value |= T(truncatingIfNeeded: bytes[position]) << (8 * index) }
            position += 1
        }
        return value
    }

    public mutating func takeBool() -> Bool { take(UInt8.self) & 1 != 0 }

    /// Up to `count` bytes (fewer at the end).
    public mutating func take(count: Int) -> UnsafeRawBufferPointer {
        let start = min(position, bytes.count)
        let end = min(start + max(count, 0), bytes.count)
        position = max(position, end)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Everything left.
    public mutating func takeRest() -> UnsafeRawBufferPointer { take(count: remaining) }
}
