import Primitives

/// A guest-physical range and how EPT maps it (identity: GPA == HPA).
public struct EPTRegion: Hashable, Sendable, BoundedArrayElement {
    public var range: PhysicalRange
    public var permissions: EPTPermissions
    public var memoryType: EPTMemoryType

    public init(range: PhysicalRange, permissions: EPTPermissions = .all, memoryType: EPTMemoryType) {
        self.range = range
        self.permissions = permissions
        self.memoryType = memoryType
    }

    public static var placeholder: EPTRegion { EPTRegion(range: .placeholder, memoryType: .uncacheable) }
}

/// Failures describing an `EPTIdentityLayout`.
public enum EPTLayoutError: Error, Equatable, Sendable {
    /// More hidden ranges than a `PhysicalRangeList` holds.
    case tooManyHiddenRanges
    /// `top` beyond the 48-bit guest-physical space of a 4-level walk.
    case beyondAddressWidth

    /// One line for `pxhv: error:`.
    public var message: Message {
        switch self {
        case .tooManyHiddenRanges: "EPT layout: too many hidden ranges"
        case .beyondAddressWidth: "EPT layout: memory reaches beyond the 48-bit guest-physical space"
        }
    }
}

/// The identity layout the hypervisor gives its guest: everything in
/// `[0, top)` mapped read/write/execute, except the hidden ranges.
///
/// Whole pages of memory (usable, ACPI, persistent) are write-back;
/// everything else (reserved, holes, MMIO such as the IOAPIC at 0xFEC00000
/// and the local APIC at 0xFEE00000) is uncacheable, which is always safe
/// for a device and for RAM only slower. Leaves leave the PAT in play
/// (`ignoresPAT` clear), so the guest's own UC/WC mappings still count.
///
/// Hidden ranges (the hypervisor's region) are rounded out to whole pages
/// and left unmapped, so a guest access is an EPT violation the hypervisor
/// reports instead of a corruption.
///
/// Regions are produced on the fly by `forEachRegion` rather than stored:
/// a map of n regions can need 2n + 1 + (hidden ranges) of them, and a list
/// sized for that worst case (128 map regions) would put 7 KiB on the stack
/// of every caller.
public struct EPTIdentityLayout: Sendable {
    public let map: PhysicalMemoryMap
    /// The hidden ranges, rounded out to pages and sorted.
    public let hidden: PhysicalRangeList
    /// The end of the mapped space.
    public let top: UInt64

    /// `top` defaults to the larger of 4 GiB (so the MMIO hole below 4 GiB
    /// is mapped whatever the RAM size) and the end of the map; it is
    /// rounded up to a page.
    public init(map: PhysicalMemoryMap, hiding hidden: PhysicalRangeList = PhysicalRangeList(), top: UInt64? = nil)
        throws(EPTLayoutError)
    {
        let fourGiB: UInt64 = 0x1_0000_0000
        guard let top = (top ?? Swift.max(fourGiB, map.end)).alignedUp(to: Page.size),
            top <= UInt64(1) << UInt64(EPTLevel.addressWidth)
        else { throw .beyondAddressWidth }

        var holes = PhysicalRangeList()
        do throws(CapacityExceeded) {
            try hidden.withElements { (hidden) throws(CapacityExceeded) in
                for range in hidden where !range.isEmpty { try holes.append(range.alignedOutward(to: Page.size)) }
            }
        } catch {
            throw .tooManyHiddenRanges
        }
        holes.sort { $0.start < $1.start }

        self.map = map
        self.hidden = holes
        self.top = top
    }

    /// Calls `body` with each region in address order: sorted,
    /// non-overlapping, 4 KiB aligned, and never two touching regions with
    /// equal attributes (merging is what lets the builder use the largest
    /// leaves).
    public func forEachRegion<E: Error>(_ body: (EPTRegion) throws(E) -> Void) throws(E) {
        let top = self.top
        var pending: EPTRegion?
        // (Never inlined: inlined, it and `body` were copied at its four calls.)
        @inline(never) func emit(_ range: PhysicalRange, _ type: EPTMemoryType) throws(E) {
            try range.forEachPiece(outside: hidden) { (piece) throws(E) in
                if var current = pending, current.range.end == piece.start, current.memoryType == type {
                    current.range.end = piece.end
                    pending = current
                    return
                }
                if let current = pending { try body(current) }
                pending = EPTRegion(range: piece, memoryType: type)
            }
        }

        // Write-back runs: touching memory regions of any memory type are
        // joined before rounding inward, so a page split between usable RAM
        // and ACPI tables still counts as memory.
        var cursor: UInt64 = 0
        func emitMemory(_ run: PhysicalRange) throws(E) {
            let memory = run.alignedInward(to: Page.size)
            if memory.isEmpty || memory.start >= top { return }
            if memory.start > cursor {
                try emit(PhysicalRange(start: cursor, end: memory.start), .uncacheable)
            }
            let end = Swift.min(memory.end, top)
            try emit(PhysicalRange(start: memory.start, end: end), .writeBack)
            cursor = end
        }
        var run: PhysicalRange?
        try map.regions.withElements { (regions) throws(E) in
            for region in regions where region.type.isMemory {
                if let current = run, current.end == region.range.start {
                    run = PhysicalRange(start: current.start, end: region.range.end)
                    continue
                }
                if let current = run { try emitMemory(current) }
                run = region.range
            }
        }
        if let current = run { try emitMemory(current) }
        if cursor < top {
            try emit(PhysicalRange(start: cursor, end: top), .uncacheable)
        }
        if let current = pending { try body(current) }
    }

    /// The region containing `address`, or nil where EPT leaves it unmapped
    /// (a linear scan: for tests and for explaining an EPT violation).
    public func region(containing address: UInt64) -> EPTRegion? {
        var found: EPTRegion?
        forEachRegion { region in
            if found == nil && region.range.contains(address) { found = region }
        }
        return found
    }
}
