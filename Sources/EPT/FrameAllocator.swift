import Primitives

/// Failures of the frame allocator.
public enum FrameAllocatorError: Error, Equatable, Sendable {
    /// `pages` is zero or its byte size overflows, or `alignment` is not a
    /// power of two of at least 4 KiB.
    case invalidRequest
    /// No free run of the requested size and alignment.
    case exhausted
    /// A free run fits but using it needs a new free-list slot and all
    /// `FrameAllocator.capacity` slots are taken.
    case tooFragmented
    /// `free` of frames the allocator does not manage, or that are free.
    case notAllocated
    /// The map minus the exclusions needs more than `capacity` ranges.
    case tooManyRanges

    /// One line for `pxhv: error:`.
    public var message: Message {
        switch self {
        case .invalidRequest: "frame allocator: invalid request (zero pages, overflow, or alignment not a power of two >= 4 KiB)"
        case .exhausted: "frame allocator: out of memory (no free run of that size and alignment)"
        case .tooFragmented: Message(template: "frame allocator: free list full ({dec} runs)",
                    UInt64(truncatingIfNeeded: FrameAllocator.capacity))
        case .notAllocated: "frame allocator: freeing frames that are not allocated"
        case .tooManyRanges: Message(template: "frame allocator: usable memory minus exclusions needs more than {dec} ranges",
                    UInt64(truncatingIfNeeded: FrameAllocator.capacity))
        }
    }
}

/// A physical frame allocator over the usable RAM of a `PhysicalMemoryMap`.
///
/// It never hands out: anything below 1 MiB (real-mode IVT, BIOS data,
/// EBDA, stage 1/2, BootInfo, the boot page tables all live there), any
/// range in `excluding` (the hypervisor image, its stacks, the payload),
/// anything outside the optional `window`, and any partial page. These are
/// subtracted once at `init`; what remains is the managed set, and a free
/// list (sorted, coalesced runs) tracks which of it is free.
///
/// `allocate` is first fit over the free list, lowest address first, so a
/// pool carved before anything else lands at the lowest address that fits
/// it (right above the payload for the Bochs and QEMU maps in the tests).
/// `free` returns runs and coalesces them. Storage is two inline lists of
/// `capacity` ranges (4 KiB of state, no heap).
///
/// The hypervisor uses two instances: one over the whole map to carve its
/// pool (`allocate(pages:alignment:)` of the pool size), then one with
/// `window:` set to that pool for everything it allocates afterwards, so
/// that the pool is the single region it hides from the guest.
public struct FrameAllocator: PageSource {
    /// Free-list slots (and managed ranges).
    public static let capacity = 128
    public typealias Ranges = BoundedArray<128, PhysicalRange>
    /// Below this, nothing is ever handed out: BIOS, real-mode structures
    /// and the boot stages (`LOW_RESERVED_END` in Boot/layout.inc).
    public static let lowMemoryEnd: UInt64 = 0x10_0000

    /// The runs this allocator may ever hand out, sorted and disjoint.
    public private(set) var managedRanges: Ranges
    /// The runs currently free, sorted, disjoint and never adjacent.
    public private(set) var freeRanges: Ranges
    /// Pages in `managedRanges`.
    public let totalPages: Int
    /// Pages handed out and not freed.
    public private(set) var allocatedPages: Int = 0
    /// Pages free (`totalPages - allocatedPages`).
    public var freePages: Int { totalPages - allocatedPages }

    /// An allocator over the usable regions of `map`, minus everything below
    /// 1 MiB, minus `excluding` (rounded out to whole pages), restricted to
    /// `window` when given.
    public init(
        map: PhysicalMemoryMap, excluding: PhysicalRangeList = PhysicalRangeList(),
        window: PhysicalRange? = nil
    ) throws(FrameAllocatorError) {
        var holes = PhysicalRangeList()
        do throws(CapacityExceeded) {
            try holes.append(PhysicalRange(start: 0, end: Self.lowMemoryEnd))
            try excluding.withElements { (excluding) throws(CapacityExceeded) in
                for range in excluding where !range.isEmpty { try holes.append(range.alignedOutward(to: Page.size)) }
            }
        } catch {
            throw .tooManyRanges
        }
        holes.sort { $0.start < $1.start }

        var managed = Ranges()
        var pages: UInt64 = 0
        do throws(CapacityExceeded) {
            try map.regions.withElements { (regions) throws(CapacityExceeded) in
                for region in regions where region.type == .usable {
                    var range = region.range.alignedInward(to: Page.size)
                    if let window {
                        guard let clipped = range.intersection(window.alignedInward(to: Page.size)) else { continue }
                        range = clipped
                    }
                    try range.forEachPiece(outside: holes) { (piece) throws(CapacityExceeded) in
                        try managed.append(piece)
                        pages += piece.length / Page.size
                    }
                }
            }
        } catch {
            throw .tooManyRanges
        }
        managedRanges = managed
        freeRanges = managed
        totalPages = Int(pages)
    }

    /// Allocates `pages` contiguous frames whose first address is a multiple
    /// of `alignment` (a power of two, at least 4 KiB), and returns that
    /// address. The frames are not zeroed.
    public mutating func allocate(pages: Int = 1, alignment: UInt64 = Page.size) throws(FrameAllocatorError) -> UInt64 {
        guard pages > 0, UInt64(pages) <= UInt64.max / Page.size,
            alignment >= Page.size, alignment & (alignment - 1) == 0
        else { throw .invalidRequest }
        let size = UInt64(pages) * Page.size

        // First fit: the first run holding an aligned block of `size`,
        // skipping runs that would need a split when the list is full.
        let full = freeRanges.isFull
        var needsSlot = false
        let found = freeRanges.withMutableElements {
            runs -> (index: Int, before: PhysicalRange, start: UInt64, after: PhysicalRange)? in
            for index in runs.indices {
                let run = runs[index]
                guard let start = run.start.alignedUp(to: alignment), start < run.end, run.end - start >= size else {
                    continue
                }
                let before = PhysicalRange(start: run.start, end: start)
                let after = PhysicalRange(start: start + size, end: run.end)
                if !before.isEmpty && !after.isEmpty && full {
                    needsSlot = true
                    continue
                }
                return (index, before, start, after)
            }
            return nil
        }
        guard let found else { throw needsSlot ? .tooFragmented : .exhausted }

        // Keep what is left on either side of the block.
        switch (found.before.isEmpty, found.after.isEmpty) {
        case (false, false):
            freeRanges.withMutableElements { $0[found.index] = found.before }
            do throws(CapacityExceeded) { try freeRanges.insert(found.after, at: found.index + 1) } catch {
                fatalError("checked above: the list has a free slot")
            }
        case (false, true):
            freeRanges.withMutableElements { $0[found.index] = found.before }
        case (true, false):
            freeRanges.withMutableElements { $0[found.index] = found.after }
        case (true, true):
            freeRanges.remove(at: found.index)
        }
        allocatedPages += pages
        return found.start
    }

    /// Returns `pages` frames at `address` (from an earlier `allocate`; a
    /// part of an allocation may be returned too).
    ///
    /// Throws `notAllocated` for frames outside the managed set or
    /// overlapping free ones: a bad `free` must not make reserved memory
    /// allocatable. It cannot tell two live allocations apart, so freeing
    /// someone else's frames is not detected. `tooFragmented` leaves the
    /// frames allocated.
    public mutating func free(_ address: UInt64, pages: Int) throws(FrameAllocatorError) {
        guard pages > 0, UInt64(pages) <= UInt64.max / Page.size, address.isAligned(to: Page.size),
            address <= UInt64.max - UInt64(pages) * Page.size
        else { throw .invalidRequest }
        let run = PhysicalRange(start: address, length: UInt64(pages) * Page.size)
        guard managedRanges.withMutableElements({ $0.contains { $0.contains(run) } }) else { throw .notAllocated }

        // Where `run` goes: before the first free run starting at or after
        // its end; it must not overlap the run before that.
        let position = freeRanges.withMutableElements { runs -> (index: Int, overlaps: Bool, joinsBefore: Bool, joinsAfter: Bool) in
            var index = 0
            while index < runs.count && runs[index].start < run.end { index += 1 }
            return (
                index,
                index > 0 && runs[index - 1].end > run.start,
                index > 0 && runs[index - 1].end == run.start,
                index < runs.count && runs[index].start == run.end
            )
        }
        if position.overlaps { throw .notAllocated }
        let index = position.index

        switch (position.joinsBefore, position.joinsAfter) {
        case (true, true):
            freeRanges.withMutableElements { $0[index - 1].end = $0[index].end }
            freeRanges.remove(at: index)
        case (true, false):
            freeRanges.withMutableElements { $0[index - 1].end = run.end }
        case (false, true):
            freeRanges.withMutableElements { $0[index].start = run.start }
        case (false, false):
            do throws(CapacityExceeded) { try freeRanges.insert(run, at: index) } catch { throw .tooFragmented }
        }
        allocatedPages -= pages
    }

    /// One frame, for `EPTBuilder`; nil when exhausted.
    public mutating func allocatePage() -> UInt64? {
        do throws(FrameAllocatorError) { return try allocate(pages: 1) } catch { return nil }
    }
}
