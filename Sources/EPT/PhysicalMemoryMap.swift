import Primitives

/// A typed range of the physical address space.
public struct MemoryRegion: Hashable, Sendable, BoundedArrayElement {
    public var range: PhysicalRange
    public var type: MemoryType

    public init(range: PhysicalRange, type: MemoryType) {
        self.range = range
        self.type = type
    }

    public static var placeholder: MemoryRegion { MemoryRegion(range: .placeholder, type: .reserved) }
}

/// Failures building or carving a `PhysicalMemoryMap`.
public enum MemoryMapError: Error, Equatable, Sendable {
    /// More non-empty input entries than `PhysicalMemoryMap.capacity`.
    case tooManyEntries
    /// The sanitized map needs more than `PhysicalMemoryMap.capacity` regions.
    case tooManyRegions

    /// One line for `pxhv: error:`.
    public var message: Message {
        switch self {
        case .tooManyEntries: Message(template: "E820 map has more than {dec} entries",
                    UInt64(truncatingIfNeeded: PhysicalMemoryMap.capacity))
        case .tooManyRegions: Message(template: "E820 map needs more than {dec} regions once sanitized",
                    UInt64(truncatingIfNeeded: PhysicalMemoryMap.capacity))
        }
    }
}

/// The machine's physical memory map: the firmware's E820 entries sanitized
/// into sorted, non-overlapping regions, with usable RAM page-aligned.
///
/// Real BIOSes report entries unsorted, overlapping and zero-length; every
/// consumer (the allocator, the EPT layout, the guest's own e820) wants one
/// clean answer per address, so sanitizing happens once, here.
///
/// Invariants: regions are sorted by start, non-empty, non-overlapping;
/// adjacent regions differ in type; `usable` regions start and end on 4 KiB
/// boundaries. Addresses in no region are holes (MMIO or nothing).
/// Parts of usable entries trimmed by the alignment become holes: an OS must
/// not treat a partial page as RAM.
public struct PhysicalMemoryMap: Equatable, Sendable {
    /// Regions a map can hold: 128, like `E820_MAX_ENTRIES` in
    /// Boot/layout.inc (and Linux's `E820_MAX_ENTRIES_ZEROPAGE`).
    public static let capacity = 128
    public typealias Regions = BoundedArray<128, MemoryRegion>
    /// Ranges of one type: a map has at most `capacity` of them.
    public typealias Ranges = BoundedArray<128, PhysicalRange>

    public private(set) var regions: Regions

    /// Sanitizes raw E820 `entries`: drops empty ones, sorts, resolves
    /// overlaps (the more restrictive type wins, see
    /// `MemoryType.restrictiveness`), merges adjacent equal types and aligns
    /// usable regions inward to 4 KiB.
    ///
    /// `entries` is read several times (O(n^2) for n entries, no scratch
    /// buffer): pass an `E820Table` to read them where stage 2 left them.
    public init<Entries: Collection>(e820 entries: Entries) throws(MemoryMapError)
    where Entries.Element == E820Entry {
        regions = try Self.sanitize(entries)
    }

    /// A map from regions that are already sanitized (used by carving).
    init(sanitized regions: Regions) { self.regions = regions }

    /// The type at `address`, or nil in a hole.
    public func type(at address: UInt64) -> MemoryType? {
        regions.withElements { regions in
            for region in regions where region.range.contains(address) { return region.type }
            return nil
        }
    }

    /// The ranges of `type`, in address order.
    public func ranges(of type: MemoryType) -> Ranges {
        var result = Ranges()
        regions.withElements { regions in
            for region in regions where region.type == type {
                // Cannot overflow: both lists have `capacity` slots.
                do throws(CapacityExceeded) { try result.append(region.range) } catch { fatalError("unreachable") }
            }
        }
        return result
    }

    /// Bytes in regions of `type`.
    public func totalBytes(of type: MemoryType) -> UInt64 {
        regions.withElements { regions in
            var total: UInt64 = 0
            for region in regions where region.type == type { total += region.range.length }
            return total
        }
    }

    /// Bytes of usable RAM (whole pages only, by the alignment invariant).
    public var usableBytes: UInt64 { totalBytes(of: .usable) }

    /// The last byte of usable RAM, or nil if there is none.
    public var highestUsableAddress: UInt64? {
        regions.withElements { regions in
            var highest: UInt64?
            for region in regions where region.type == .usable { highest = region.range.end - 1 }
            return highest
        }
    }

    /// The end of the highest region of any type (0 for an empty map).
    public var end: UInt64 { regions.withElements { $0.last?.range.end ?? 0 } }

    /// True if every address of `range` lies in regions of `type` (adjacent
    /// regions of one type are merged, so that is a single region).
    public func contains(_ range: PhysicalRange, type: MemoryType) -> Bool {
        withUnsafePointer(to: self) { Self.contains($0, range, type: type) }
    }

    /// `contains` on the map at `map`, read in place: no copy of its 3 KiB
    /// (the exit path checks guest RAM this way). `regions` is the map's
    /// only stored property, at offset 0 (PhysicalMemoryMapTests checks it).
    public static func contains(_ map: UnsafePointer<Self>, _ range: PhysicalRange, type: MemoryType) -> Bool {
        if range.isEmpty { return true }
        return withRegions(map) { regions in
            regions.contains { $0.type == type && $0.range.contains(range) }
        }
    }

    /// Calls `body` with the regions of the map at `map`, read in place
    /// (no copy of its 3 KiB: the exit path reads maps this way).
    public static func withRegions<Result>(
        _ map: UnsafePointer<Self>, _ body: (UnsafeBufferPointer<MemoryRegion>) -> Result
    ) -> Result {
        Regions.withElements(at: UnsafeRawPointer(map).assumingMemoryBound(to: Regions.self), body)
    }
}

extension PhysicalMemoryMap: RandomAccessCollection {
    public var startIndex: Int { regions.startIndex }
    public var endIndex: Int { regions.endIndex }
    public var count: Int { regions.count }
    public subscript(position: Int) -> MemoryRegion { regions[position] }
}
