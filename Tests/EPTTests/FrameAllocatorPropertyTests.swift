import Testing
@testable import EPT

/// The allocator over random maps, exclusions and windows: what it hands
/// out is always usable, aligned, outside every exclusion and disjoint, and
/// draining it yields exactly the pages an independent count expects.
@Suite struct FrameAllocatorPropertyTests {
    static let iterations = 500

    struct Allocation {
        var range: PhysicalRange
        var alignment: UInt64
    }

    /// Pages available, counted with plain arrays instead of the
    /// allocator's sweep: usable pages, clipped to the window, minus the low
    /// 1 MiB and the exclusions rounded out to pages.
    static func expectedPages(map: PhysicalMemoryMap, excluded: [PhysicalRange], window: PhysicalRange?) -> UInt64 {
        func subtract(_ hole: PhysicalRange, from pieces: [PhysicalRange]) -> [PhysicalRange] {
            pieces.flatMap { piece -> [PhysicalRange] in
                guard piece.overlaps(hole) else { return [piece] }
                var rest: [PhysicalRange] = []
                if piece.start < hole.start { rest.append(PhysicalRange(start: piece.start, end: hole.start)) }
                if hole.end < piece.end { rest.append(PhysicalRange(start: hole.end, end: piece.end)) }
                return rest
            }
        }
        var pieces = map.ranges(of: .usable).compactMap { range -> PhysicalRange? in
            guard let window else { return range }
            return range.intersection(PhysicalRange(start: (window.start + 0xFFF) & ~0xFFF, end: window.end & ~0xFFF))
        }
        pieces = subtract(PhysicalRange(start: 0, end: 0x10_0000), from: pieces)
        for hole in excluded {
            let rounded = PhysicalRange(start: hole.start & ~0xFFF, end: (hole.end + 0xFFF) & ~0xFFF)
            pieces = subtract(rounded, from: pieces)
        }
        return pieces.reduce(0) { $0 + $1.length / 0x1000 }
    }

    @Test func randomMapsNeverHandOutExcludedOrSharedFrames() throws {
        var drainAllocations = 0
        var drainedPages = 0
        var checkedMaps = 0
        for seed in 0..<UInt64(Self.iterations) {
            var rng = SplitMix64(seed: 0xA110C + seed)
            let space: UInt64 = rng.pick([0x200_0000, 0x1000_0000, 0x4000_0000])
            let map = try PhysicalMemoryMap(e820: RandomMaps.entries(&rng, space: space))
            let excluded = RandomMaps.ranges(&rng, count: 0...6, space: space, maxLength: 0x80_0000)
            let window = rng.chance(30)
                ? RandomMaps.ranges(&rng, count: 1...1, space: space, maxLength: space / 2)[0] : nil
            var allocator: FrameAllocator
            do {
                allocator = try FrameAllocator(map: map, excluding: PhysicalRangeList(excluded), window: window)
            } catch FrameAllocatorError.tooManyRanges { continue }
            checkedMaps += 1
            let expected = Self.expectedPages(map: map, excluded: excluded, window: window)
            #expect(UInt64(allocator.totalPages) == expected, "seed \(seed)")

            // Phase 1: random allocations and frees.
            var live: [Allocation] = []
            for _ in 0..<200 {
                if !live.isEmpty && rng.chance(30) {
                    let index = rng.int(in: 0...(live.count - 1))
                    do {
                        try allocator.free(live[index].range.start, pages: Int(live[index].range.length / 0x1000))
                        live.remove(at: index)
                    } catch FrameAllocatorError.tooFragmented {}  // documented: stays allocated
                } else {
                    let pages = rng.int(in: 1...64)
                    let alignment: UInt64 = rng.pick([0x1000, 0x2000, 0x1_0000, 0x20_0000])
                    do {
                        let start = try allocator.allocate(pages: pages, alignment: alignment)
                        live.append(Allocation(range: PhysicalRange(start: start, length: UInt64(pages) * 0x1000), alignment: alignment))
                    } catch FrameAllocatorError.exhausted {
                    } catch FrameAllocatorError.tooFragmented {}
                }
            }
            // Phase 2: drain, halving the request down to one page.
            var request = 256
            while true {
                do {
                    let start = try allocator.allocate(pages: request)
                    live.append(Allocation(range: PhysicalRange(start: start, length: UInt64(request) * 0x1000), alignment: 0x1000))
                    drainAllocations += 1
                    drainedPages += request
                } catch {
                    #expect(error == .exhausted, "seed \(seed)")
                    if request == 1 { break }
                    request /= 2
                }
            }

            let livePages = live.reduce(0) { $0 + $1.range.length / 0x1000 }
            #expect(livePages == expected, "seed \(seed): drained \(livePages) of \(expected) pages")
            #expect(allocator.freePages == 0 && allocator.freeRanges.isEmpty, "seed \(seed)")
            #expect(allocator.allocatedPages == allocator.totalPages, "seed \(seed)")

            for allocation in live {
                let range = allocation.range
                #expect(range.start % allocation.alignment == 0, "seed \(seed): misaligned \(range)")
                #expect(map.contains(range, type: .usable), "seed \(seed): \(range) not usable")
                #expect(range.start >= 0x10_0000, "seed \(seed): \(range) below 1 MiB")
                #expect(!excluded.contains { $0.overlaps(range) }, "seed \(seed): \(range) excluded")
                if let window { #expect(window.contains(range), "seed \(seed): \(range) outside window") }
            }
            let sorted = live.map(\.range).sorted { $0.start < $1.start }
            for (a, b) in zip(sorted, sorted.dropFirst()) {
                #expect(a.end <= b.start, "seed \(seed): \(a) overlaps \(b)")
            }

            // Returning everything (in address order, so the free list
            // never holds more runs than the managed set) restores it exactly.
            for allocation in live.sorted(by: { $0.range.start < $1.range.start }) {
                try allocator.free(allocation.range.start, pages: Int(allocation.range.length / 0x1000))
            }
            #expect(allocator.freeRanges == allocator.managedRanges, "seed \(seed)")
            #expect(allocator.freePages == allocator.totalPages, "seed \(seed)")
        }
        #expect(checkedMaps == Self.iterations, "\(checkedMaps) maps checked")
        #expect(drainAllocations > Self.iterations, "the drain phase ran (\(drainAllocations) allocations, \(drainedPages) pages)")
    }
}
