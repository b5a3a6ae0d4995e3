// One-line diagnostics without Foundation or `String(describing:)`.
//
// Only error paths use this (it allocates the result `String`); VMExit holds
// the same helper.

struct ASCIIText {
    private(set) var bytes: [UInt8] = []

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(byte: UInt8) {
        bytes.append(byte)
    }

    /// Appends `value` in decimal.
    mutating func append(decimal value: UInt64) {
        let start = bytes.count
        var rest = value
        repeat {
            bytes.append(UInt8(truncatingIfNeeded: rest % 10) &+ 0x30)
            rest /= 10
        } while rest != 0
        bytes[start...].reverse()
    }

    /// Appends `value` as `0x` and upper-case hex digits, no padding.
    mutating func append(hex value: UInt64) {
        append("0x")
        var shift = 60
        while shift > 0 && (value >> UInt64(shift)) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
            bytes.append(nibble < 10 ? nibble &+ 0x30 : nibble &+ 0x37)
            shift -= 4
        }
    }

    var string: String {
        String(decoding: bytes, as: UTF8.self)
    }
}
