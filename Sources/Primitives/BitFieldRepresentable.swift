/// A register-like value whose fields are named bit ranges.
///
/// Conforming types (EPT entries, the EPTP, exit qualifications) declare
/// their fields once as `ClosedRange<Int>` constants next to the SDM table
/// they come from and read them through `self[bits:]`, so no shift or mask
/// appears at a use site.
public protocol BitFieldRepresentable: RawRepresentable
where RawValue: FixedWidthInteger & UnsignedInteger {
    var rawValue: RawValue { get set }
}

extension BitFieldRepresentable {
    /// The field occupying `bits` (inclusive, bit 0 = least significant),
    /// shifted down to bit 0.
    ///
    /// Setting a value wider than the field is a programming error and traps.
    /// (The arithmetic is done in `UInt64`, which every conforming raw value
    /// fits: it keeps unoptimized test builds off generic integer witnesses.)
    @inlinable
    public subscript(bits bits: ClosedRange<Int>) -> RawValue {
        get {
            let (shift, mask) = Self.shiftAndMask(bits)
            return RawValue(truncatingIfNeeded: (UInt64(truncatingIfNeeded: rawValue) >> shift) & mask)
        }
        set {
            let (shift, mask) = Self.shiftAndMask(bits)
            let value = UInt64(truncatingIfNeeded: newValue)
            precondition(value & ~mask == 0, "value does not fit the bit field")
            let raw = UInt64(truncatingIfNeeded: rawValue)
            rawValue = RawValue(truncatingIfNeeded: (raw & ~(mask << shift)) | (value << shift))
        }
    }

    /// The single-bit flag at `bit`.
    @inlinable
    public subscript(bit bit: Int) -> Bool {
        get { self[bits: bit...bit] != 0 }
        set { self[bits: bit...bit] = newValue ? 1 : 0 }
    }

    @inlinable
    static func shiftAndMask(_ bits: ClosedRange<Int>) -> (shift: UInt64, mask: UInt64) {
        precondition(RawValue.bitWidth <= 64 && bits.lowerBound >= 0 && bits.upperBound < RawValue.bitWidth,
                     "bit field outside the raw value")
        let width = bits.upperBound - bits.lowerBound + 1
        return (UInt64(bits.lowerBound), width == 64 ? .max : (UInt64(1) << UInt64(width)) - 1)
    }
}
