import Primitives

/// One VMCB field: its byte offset from the start of the VMCB, typed by the
/// width of its value (`UInt8`, `UInt16`, `UInt32` or `UInt64`; fields are
/// little-endian and naturally aligned).
///
/// The catalogue is `VMCB` (`VMCB.exitCode`, `VMCB.rip`); read and write
/// through `VMCBAccess` (`vmcb.read(VMCB.rip)`). Offsets of the state-save
/// area are given from the start of the VMCB (the APM gives them from the
/// start of the area, at 400h).
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42) and
/// "VMCB Layout, State Save Area" (Table B-2 in rev. 3.42).
public struct VMCBField<Value: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    /// Bytes from the start of the VMCB.
    public let offset: Int
    /// The APM's name of the field.
    public let name: StaticString

    public init(_ offset: Int, _ name: StaticString) {
        self.offset = offset
        self.name = name
    }

    /// The width of the value in bytes (1, 2, 4 or 8).
    public var byteCount: Int { Value.bitWidth / 8 }
}

extension VMCBField: Equatable, Hashable {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.offset == rhs.offset }
    public func hash(into hasher: inout Hasher) { hasher.combine(offset) }
}

/// A segment register in the state-save area: 16 bytes, selector (u16) at
/// +0, attributes (u16) at +2, limit (u32) at +4, base (u64) at +8. GDTR
/// and IDTR use the same layout with only limit and base meaningful.
///
/// AMD APM Vol. 2, "VMCB Layout, State Save Area" (Table B-2 in rev. 3.42).
public struct VMCBSegmentField: Sendable, Hashable {
    /// Bytes from the start of the VMCB.
    public let offset: Int
    /// "ES", "CS", ... "TR".
    public let name: StaticString

    public init(_ offset: Int, _ name: StaticString) {
        self.offset = offset
        self.name = name
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.offset == rhs.offset }
    public func hash(into hasher: inout Hasher) { hasher.combine(offset) }

    /// The size of a segment in the VMCB.
    public static let byteCount = 16

    public var selector: VMCBField<UInt16> { VMCBField(offset, name) }
    public var attributes: VMCBField<UInt16> { VMCBField(offset + 2, name) }
    public var limit: VMCBField<UInt32> { VMCBField(offset + 4, name) }
    public var base: VMCBField<UInt64> { VMCBField(offset + 8, name) }
}
