import Primitives

/// The 4 KiB page: the smallest unit the allocator hands out and EPT maps.
public enum Page {
    public static let size: UInt64 = 0x1000
    public static let shift = 12
}

/// A half-open range `[start, end)` of physical (or guest-physical)
/// addresses.
///
/// Half-open so that adjacent ranges share a boundary and an empty range is
/// representable; `end` is a `UInt64`, so the very last byte of the 64-bit
/// space is out of reach, which no physical address width reaches anyway
/// (52 bits at most).
public struct PhysicalRange: Hashable, Sendable, BoundedArrayElement {
    public var start: UInt64
    public var end: UInt64

    public init(start: UInt64, end: UInt64) {
        precondition(start <= end, "range ends before it starts")
        self.start = start
        self.end = end
    }

    /// `[start, start + length)`, with the end clamped to `UInt64.max` when
    /// the sum overflows (firmware does report such lengths).
    public init(start: UInt64, length: UInt64) {
        let (end, overflow) = start.addingReportingOverflow(length)
        self.init(start: start, end: overflow ? .max : end)
    }

    public static var placeholder: PhysicalRange { PhysicalRange(start: 0, end: 0) }

    public var length: UInt64 { end - start }
    public var isEmpty: Bool { start == end }
    /// Whole 4 KiB pages in the range (partial pages do not count).
    public var pageCount: UInt64 { alignedInward(to: Page.size).length / Page.size }

    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    /// True if every address of `other` is in `self` (an empty `other` is
    /// contained everywhere).
    public func contains(_ other: PhysicalRange) -> Bool {
        other.isEmpty || (other.start >= start && other.end <= end)
    }

    public func overlaps(_ other: PhysicalRange) -> Bool {
        start < other.end && other.start < end && !isEmpty && !other.isEmpty
    }

    /// The common part, or nil if the ranges do not overlap.
    public func intersection(_ other: PhysicalRange) -> PhysicalRange? {
        let lo = max(start, other.start)
        let hi = min(end, other.end)
        return lo < hi ? PhysicalRange(start: lo, end: hi) : nil
    }

    /// The largest `alignment`-aligned range inside this one: start rounded
    /// up, end rounded down. Empty (at the rounded start) if none fits.
    /// `alignment` must be a power of two.
    public func alignedInward(to alignment: UInt64) -> PhysicalRange {
        guard let lo = start.alignedUp(to: alignment) else {
            return PhysicalRange(start: end, end: end)
        }
        let hi = end.alignedDown(to: alignment)
        if lo < hi { return PhysicalRange(start: lo, end: hi) }
        let at = min(lo, end)
        return PhysicalRange(start: at, end: at)
    }

    /// The smallest `alignment`-aligned range covering this one: start
    /// rounded down, end rounded up (clamped to the last aligned address
    /// when rounding up would overflow).
    public func alignedOutward(to alignment: UInt64) -> PhysicalRange {
        let lo = start.alignedDown(to: alignment)
        let hi = end.alignedUp(to: alignment) ?? UInt64.max.alignedDown(to: alignment)
        return PhysicalRange(start: lo, end: max(lo, hi))
    }

    /// Calls `body` with each maximal part of this range outside all of
    /// `holes`, in address order. `holes` must be sorted by `start`; they
    /// may overlap each other.
    func forEachPiece<E: Error>(
        outside holes: PhysicalRangeList, _ body: (PhysicalRange) throws(E) -> Void
    ) throws(E) {
        let end = self.end
        let cursor = try holes.withElements { (holes) throws(E) -> UInt64 in
            var cursor = start
            for hole in holes where hole.end > cursor && !hole.isEmpty {
                if hole.start >= end { break }
                if hole.start > cursor {
                    try body(PhysicalRange(start: cursor, end: hole.start))
                }
                cursor = Swift.max(cursor, hole.end)
                if cursor >= end { break }
            }
            return cursor
        }
        if cursor < end {
            try body(PhysicalRange(start: cursor, end: end))
        }
    }
}

/// Ranges handed to the allocator and the EPT layout as "never touch":
/// the hypervisor image, its stacks, boot page tables, the payload.
/// 32 slots: the bare-metal program lists fewer than ten.
public typealias PhysicalRangeList = BoundedArray<32, PhysicalRange>

extension UInt64 {
    /// Rounded up to a multiple of `alignment` (a power of two), or nil on
    /// overflow.
    @inlinable
    func alignedUp(to alignment: UInt64) -> UInt64? {
        precondition(alignment != 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        let (sum, overflow) = addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }

    /// Rounded down to a multiple of `alignment` (a power of two).
    @inlinable
    func alignedDown(to alignment: UInt64) -> UInt64 {
        precondition(alignment != 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        return self & ~(alignment - 1)
    }

    @inlinable
    func isAligned(to alignment: UInt64) -> Bool { self & (alignment - 1) == 0 }
}
