import Testing
@testable import EPT

/// The sanitized map against a brute-force reading of the raw entries.
@Suite struct PhysicalMemoryMapPropertyTests {
    static let iterations = 500

    /// The type the raw entries give `address`: the most restrictive among
    /// those covering it, by the documented rank.
    static func rawType(at address: UInt64, in entries: [E820Entry]) -> MemoryType? {
        entries.filter { $0.range.contains(address) }.max { $0.type.restrictiveness < $1.type.restrictiveness }?.type
    }

    /// True if every byte of the page holding `address` is raw-usable.
    static func pageIsRawUsable(_ address: UInt64, in entries: [E820Entry]) -> Bool {
        let page = address & ~0xFFF
        guard page <= UInt64.max - 0x1000 else { return false }
        // The raw type only changes at entry boundaries: test each piece.
        var points: Set<UInt64> = [page]
        for entry in entries {
            for boundary in [entry.range.start, entry.range.end] where boundary > page && boundary < page + 0x1000 {
                points.insert(boundary)
            }
        }
        return points.allSatisfy { rawType(at: $0, in: entries) == .usable }
    }

    static func samples(_ rng: inout SplitMix64, entries: [E820Entry], space: UInt64) -> [UInt64] {
        var addresses = (0..<200).map { _ in rng.uint64(below: space) }
        for entry in entries {
            for boundary in [entry.range.start, entry.range.end] {
                addresses += [boundary &- 1, boundary, boundary &+ 1, boundary | 0xFFF, boundary & ~0xFFF]
            }
        }
        return addresses
    }

    static func checkInvariants(_ map: PhysicalMemoryMap, seed: UInt64) {
        for (index, region) in map.enumerated() {
            #expect(!region.range.isEmpty, "seed \(seed)")
            if region.type == .usable {
                #expect(region.range.start & 0xFFF == 0 && region.range.end & 0xFFF == 0, "seed \(seed)")
            }
            if index > 0 {
                let previous = map[index - 1]
                #expect(previous.range.end <= region.range.start, "seed \(seed): unsorted or overlapping")
                #expect(previous.range.end < region.range.start || previous.type != region.type, "seed \(seed): unmerged")
            }
        }
    }

    @Test func sanitizedMapAgreesWithTheRawEntries() throws {
        for seed in 0..<UInt64(Self.iterations) {
            var rng = SplitMix64(seed: seed)
            let space: UInt64 = rng.pick([0x400_0000, 0x4000_0000, 0x2_0000_0000])
            let entries = RandomMaps.entries(&rng, space: space)
            let map = try PhysicalMemoryMap(e820: entries.shuffled(using: &rng))
            Self.checkInvariants(map, seed: seed)

            for address in Self.samples(&rng, entries: entries, space: space) {
                let raw = Self.rawType(at: address, in: entries)
                let expected = raw == .usable ? (Self.pageIsRawUsable(address, in: entries) ? .usable : nil) : raw
                #expect(map.type(at: address) == expected, "seed \(seed), address \(address)")
            }
            let usable = map.ranges(of: .usable)
            #expect(map.usableBytes == usable.reduce(0) { $0 + $1.length }, "seed \(seed)")
            #expect(map.highestUsableAddress == usable.last.map { $0.end - 1 }, "seed \(seed)")
        }
    }

    @Test func markingOverridesOnlyTheRange() throws {
        var checkedMaps = 0
        defer { #expect(checkedMaps >= Self.iterations * 95 / 100, "\(checkedMaps) maps checked") }
        for seed in 0..<UInt64(Self.iterations) {
            var rng = SplitMix64(seed: 0x1000 + seed)
            let space: UInt64 = 0x4000_0000
            let entries = RandomMaps.entries(&rng, space: space)
            let map = try PhysicalMemoryMap(e820: entries)
            let range = RandomMaps.ranges(&rng, count: 1...1, space: space, maxLength: 0x800_0000)[0]
            let type: MemoryType = rng.pick([.reserved, .acpiNVS, .unusable, MemoryType(rawValue: 12)])
            let marked: PhysicalMemoryMap
            do { marked = try map.marking(range, as: type) } catch MemoryMapError.tooManyRegions { continue }
            Self.checkInvariants(marked, seed: seed)
            checkedMaps += 1

            var addresses = Self.samples(&rng, entries: entries, space: space)
            addresses += [range.start &- 1, range.start, range.end &- 1, range.end, range.end | 0xFFF]
            for address in addresses {
                let page = PhysicalRange(start: address & ~0xFFF, length: 0x1000)
                let expected: MemoryType?
                if range.contains(address) {
                    expected = type
                } else if map.type(at: address) == .usable {
                    expected = page.overlaps(range) ? nil : .usable
                } else {
                    expected = map.type(at: address)
                }
                #expect(marked.type(at: address) == expected, "seed \(seed), address \(address)")
            }
        }
    }
}
