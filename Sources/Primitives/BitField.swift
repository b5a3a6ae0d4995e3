// Named bitfields over integer register images.
//
// Shared by Devices and VMExit (which both build on EPT); EPT's own entry
// types use `BitFieldRepresentable` (BitFields.swift).

extension FixedWidthInteger {
    /// The field at `range` (bit positions, low...high), shifted down to bit 0.
    ///
    /// `value[bits: 10...12]` reads SLP_TYP; assigning writes it back and
    /// leaves the other bits alone (excess high bits of the new value are
    /// dropped).
    @inlinable @inline(__always)
    public subscript(bits range: ClosedRange<Int>) -> Self {
        get {
            (self >> range.lowerBound) & Self.lowMask(width: range.count)
        }
        set {
            let mask = Self.lowMask(width: range.count) << range.lowerBound
            self = (self & ~mask) | ((newValue << range.lowerBound) & mask)
        }
    }

    /// The single bit at `position`.
    @inlinable @inline(__always)
    public subscript(bit position: Int) -> Bool {
        get { (self >> position) & 1 == 1 }
        set { self[bits: position...position] = newValue ? 1 : 0 }
    }

    @inlinable @inline(__always)
    public static func lowMask(width: Int) -> Self {
        width >= Self.bitWidth ? ~0 : (1 << width) - 1
    }
}
