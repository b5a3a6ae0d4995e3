// One-line diagnostics without Foundation or `String(describing:)`.
//
// Shared by Devices and VMExit (which both build on EPT). Only error and
// reporting paths use it: it allocates the result `String`.

public struct ASCIIText {
    public init() {}

    public private(set) var bytes: [UInt8] = []

    public mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func append(byte: UInt8) {
        bytes.append(byte)
    }

    /// Appends `value` in decimal.
    public mutating func append(decimal value: UInt64) {
        let start = bytes.count
        var rest = value
        repeat {
            bytes.append(UInt8(truncatingIfNeeded: rest % 10) &+ 0x30)
            rest /= 10
        } while rest != 0
        bytes[start...].reverse()
    }

    /// Appends `value` as `0x` and upper-case hex digits, no padding.
    public mutating func append(hex value: UInt64) {
        append("0x")
        var shift = 60
        while shift > 0 && (value >> UInt64(shift)) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
            bytes.append(nibble < 10 ? nibble &+ 0x30 : nibble &+ 0x37)
            shift -= 4
        }
    }

    public var string: String {
        String(decoding: bytes, as: UTF8.self)
    }
}
