// Named bitfields over integer register images.
//
// Declared per module (internal) until the libraries share a support module;
// Devices holds the same helper.

extension FixedWidthInteger {
    /// The field at `range` (bit positions, low...high), shifted down to bit 0.
    ///
    /// `value[bits: 10...12]` reads SLP_TYP; assigning writes it back and
    /// leaves the other bits alone (excess high bits of the new value are
    /// dropped).
    @inline(__always)
    subscript(bits range: ClosedRange<Int>) -> Self {
        get {
            (self >> range.lowerBound) & Self.lowMask(width: range.count)
        }
        set {
            let mask = Self.lowMask(width: range.count) << range.lowerBound
            self = (self & ~mask) | ((newValue << range.lowerBound) & mask)
        }
    }

    /// The single bit at `position`.
    @inline(__always)
    subscript(bit position: Int) -> Bool {
        get { (self >> position) & 1 == 1 }
        set { self[bits: position...position] = newValue ? 1 : 0 }
    }

    @inline(__always)
    static func lowMask(width: Int) -> Self {
        width >= Self.bitWidth ? ~0 : (1 << width) - 1
    }
}
