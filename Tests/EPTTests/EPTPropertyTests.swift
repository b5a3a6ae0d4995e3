@testable import EPT
import Primitives
import Testing

/// Random maps, hidden ranges and leaf limits: the identity layout means
/// what it says, and the tables the builder writes translate exactly the
/// layout, with maximal leaves.
@Suite struct EPTPropertyTests {
    static let iterations = 200
    static let samplesPerMap = 1000

    func effectiveTopFor(_ top: UInt64?, _ map: PhysicalMemoryMap) -> UInt64 {
        ((top ?? max(0x1_0000_0000, map.end)) + 0xFFF) & ~0xFFF
    }

    /// True if every byte of `page` lies in memory-type regions of `map`.
    static func isMemory(_ page: PhysicalRange, in map: PhysicalMemoryMap) -> Bool {
        var cursor = page.start
        for region in map where region.type.isMemory && region.range.end > cursor {
            if region.range.start > cursor { break }
            cursor = region.range.end
            if cursor >= page.end { return true }
        }
        return cursor >= page.end
    }

    @Test func tablesTranslateExactlyTheLayout() throws {
        var leafTotals = EPTLeafCounts()
        for seed in 0..<UInt64(Self.iterations) {
            var rng = SplitMix64(seed: 0xE97 + seed)
            let space: UInt64 = rng.pick([0x4000_0000, 0x2_0000_0000])
            let map = try PhysicalMemoryMap(e820: RandomMaps.entries(&rng, space: space))
            let hidden = RandomMaps.ranges(&rng, count: 0...3, space: space, maxLength: 0x1000_0000)
            let top: UInt64? = rng.chance(50) ? nil : rng.uint64(in: 1...0x3_0000_0000)
            let identity = try EPTIdentityLayout(map: map, hiding: PhysicalRangeList(hidden), top: top)
            let layout = identity.regions
            #expect(identity.top == effectiveTopFor(top, map), "seed \(seed)")
            let effectiveTop = effectiveTopFor(top, map)

            let memory = FakePhysicalMemory()
            var pages = BumpPageSource(next: 0x8000_0000_0000)
            let largest: EPTPageSize = rng.pick([.size2MiB, .size1GiB])
            var builder = try EPTBuilder(memory: memory, largestPageSize: largest, pages: &pages)
            try builder.map(identity, pages: &pages)
            let walker = EPTWalker(memory: memory, pointer: builder.pointer())

            var addresses = (0..<Self.samplesPerMap).map { _ in rng.uint64(below: effectiveTop + 0x4000_0000) }
            for region in layout {
                addresses += [region.range.start, region.range.start &- 1, region.range.end, region.range.end - 1]
            }
            for range in hidden { addresses += [range.start, range.end - 1, range.end] }
            for address in addresses where address < 0x1_0000_0000_0000 {
                let page = PhysicalRange(start: address & ~0xFFF, length: 0x1000)
                // The layout, from first principles.
                let region = layout.region(containing: address)
                let shouldMap = address < effectiveTop && !hidden.contains { $0.overlaps(page) }
                #expect((region != nil) == shouldMap, "seed \(seed), GPA \(address): layout")
                if let region {
                    let type: EPTMemoryType = Self.isMemory(page, in: map) ? .writeBack : .uncacheable
                    #expect(region.memoryType == type, "seed \(seed), GPA \(address): memory type")
                }
                // The tables, against the layout.
                let translation = walker.translate(address)
                #expect((translation.mapping != nil) == (region != nil), "seed \(seed), GPA \(address): \(translation)")
                if let mapping = translation.mapping, let region {
                    #expect(mapping.hostPhysicalAddress == address, "seed \(seed), GPA \(address)")
                    #expect(mapping.memoryType == region.memoryType, "seed \(seed), GPA \(address)")
                    #expect(mapping.permissions == region.permissions, "seed \(seed), GPA \(address)")
                }
            }

            // Every leaf lies in one region with its attributes, is no larger
            // than allowed, and could not have been larger.
            var mappedBytes: UInt64 = 0
            walker.forEachLeaf { leaf in
                mappedBytes += leaf.pageSize.bytes
                leafTotals[leaf.pageSize] += 1
                let range = PhysicalRange(start: leaf.guestPhysicalAddress, length: leaf.pageSize.bytes)
                #expect(leaf.pageSize.bytes <= largest.bytes, "seed \(seed)")
                let region = layout.region(containing: leaf.guestPhysicalAddress)
                #expect(region.map { $0.range.contains(range) && $0.memoryType == leaf.entry.memoryType } == true,
                        "seed \(seed): leaf \(range)")
                let larger: UInt64? = switch leaf.pageSize {
                case .size4KiB: EPTPageSize.size2MiB.bytes
                case .size2MiB: largest == .size1GiB ? EPTPageSize.size1GiB.bytes : nil
                case .size1GiB: nil
                }
                if let larger {
                    let block = PhysicalRange(start: leaf.guestPhysicalAddress & ~(larger - 1), length: larger)
                    #expect(region.map { !$0.range.contains(block) } == true, "seed \(seed): \(range) could be a larger leaf")
                }
            }
            #expect(mappedBytes == layout.reduce(0) { $0 + $1.range.length }, "seed \(seed)")
            // Layout invariants: sorted, disjoint, aligned, maximal.
            for (a, b) in zip(layout, layout.dropFirst()) {
                #expect(a.range.end <= b.range.start, "seed \(seed): unsorted")
                #expect(a.range.end < b.range.start || a.memoryType != b.memoryType, "seed \(seed): unmerged")
            }
            #expect(layout.allSatisfy { $0.range.start & 0xFFF == 0 && $0.range.end & 0xFFF == 0 }, "seed \(seed)")
        }
        // The random maps exercise every leaf size.
        #expect(leafTotals.size4KiB > 0 && leafTotals.size2MiB > 0 && leafTotals.size1GiB > 0, "\(leafTotals)")
    }
}
