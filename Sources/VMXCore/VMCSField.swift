import Primitives

/// One VMCS field: its 32-bit encoding (the VMREAD/VMWRITE operand), typed
/// by the width of its value.
///
/// An encoding is composed of: bit 0 the access type (0 = full, 1 = high
/// half of a 64-bit field), bits 9:1 the index, bits 11:10 the type
/// (control, read-only data, guest state, host state), bit 12 reserved (0),
/// bits 14:13 the width (16-bit, 64-bit, 32-bit, natural), bits 31:15
/// reserved (0).
///
/// The catalogue is `VMCS` (`VMCS.guestRIP`); read and write through
/// `VMCSAccess` (`vmcs.read(VMCS.guestRIP)`).
///
/// Intel SDM Vol. 3C, "VMREAD, VMWRITE, and Encodings of VMCS Fields" (25.11.2 in rev. 84).
public struct VMCSField<Value: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    /// The 32-bit encoding, "full" access type.
    public let encoding: UInt32
    /// The SDM's name of the field (Appendix B).
    public let name: StaticString

    public init(_ encoding: UInt32, _ name: StaticString) {
        self.encoding = encoding
        self.name = name
    }

    /// Bits 14:13.
    public var width: VMCSFieldWidth { VMCSFieldWidth(encoding: encoding) }
    /// Bits 11:10.
    public var type: VMCSFieldType { VMCSFieldType(encoding: encoding) }
    /// Bits 9:1.
    public var index: Int { Int(encoding[bits: 1...9]) }
    /// The "high" encoding of a 64-bit field (bits 63:32 alone).
    public var highEncoding: UInt32 { encoding | 1 }
}

extension VMCSField: Equatable, Hashable {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.encoding == rhs.encoding }
    public func hash(into hasher: inout Hasher) { hasher.combine(encoding) }
}

/// Bits 14:13 of a VMCS field encoding.
public enum VMCSFieldWidth: UInt32, Hashable, Sendable {
    case bits16 = 0
    case bits64 = 1
    case bits32 = 2
    /// 64 bits on processors that support Intel 64.
    case natural = 3

    public init(encoding: UInt32) { self = VMCSFieldWidth(rawValue: encoding[bits: 13...14])! }

    /// The width of the value in bits (natural = 64).
    public var bitWidth: Int {
        switch self {
        case .bits16: 16
        case .bits32: 32
        case .bits64, .natural: 64
        }
    }
}

/// Bits 11:10 of a VMCS field encoding.
public enum VMCSFieldType: UInt32, Hashable, Sendable {
    case control = 0
    /// VM-exit information and the VM-instruction error.
    case readOnlyData = 1
    case guestState = 2
    case hostState = 3

    public init(encoding: UInt32) { self = VMCSFieldType(rawValue: encoding[bits: 10...11])! }
}
