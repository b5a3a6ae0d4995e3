import Primitives
/// A table signature: four ASCII bytes, as a little-endian `UInt32` so that
/// one 32-bit load compares it.
///
/// ACPI 6.5, "DESCRIPTION_HEADER Signatures for tables defined by ACPI" (5.2.6)
public struct ACPISignature: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// "RSDT", Root System Description Table.
    public static let rsdt = Self(rawValue: 0x5444_5352)
    /// "XSDT", Extended System Description Table.
    public static let xsdt = Self(rawValue: 0x5444_5358)
    /// "FACP", Fixed ACPI Description Table (FADT).
    public static let fadt = Self(rawValue: 0x5043_4146)
    /// "DSDT", Differentiated System Description Table.
    public static let dsdt = Self(rawValue: 0x5444_5344)
    /// "APIC", Multiple APIC Description Table (MADT).
    public static let madt = Self(rawValue: 0x4349_5041)

    /// The four bytes in memory order.
    public var bytes: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: rawValue), UInt8(truncatingIfNeeded: rawValue >> 8),
         UInt8(truncatingIfNeeded: rawValue >> 16), UInt8(truncatingIfNeeded: rawValue >> 24))
    }

    /// Whether all four bytes are printable ASCII (0x20...0x7E).
    public var isPrintable: Bool {
        let (a, b, c, d) = bytes
        func printable(_ byte: UInt8) -> Bool { byte >= 0x20 && byte <= 0x7E }
        return printable(a) && printable(b) && printable(c) && printable(d)
    }
}

extension Message {
    /// The signature as its four characters, or in hex if any is unprintable.
    public mutating func append(_ signature: ACPISignature) {
        if signature.isPrintable {
            let (a, b, c, d) = signature.bytes
            append(byte: a); append(byte: b); append(byte: c); append(byte: d)
        } else {
            append(hex: UInt64(signature.rawValue))
        }
    }
}

extension Message.StringInterpolation {
    /// `\(signature)`: its four characters, or hex if any is unprintable.
    public mutating func appendInterpolation(_ signature: ACPISignature) {
        message.append(signature)
    }
}
