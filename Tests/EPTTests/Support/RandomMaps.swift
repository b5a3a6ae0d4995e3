@testable import EPT

/// Random E820 maps the way broken BIOSes write them: unsorted, overlapping,
/// zero-length, unaligned, with unknown types.
enum RandomMaps {
    static let types: [MemoryType] = [
        .usable, .usable, .usable, .usable, .usable, .reserved, .reserved, .acpiReclaimable, .acpiNVS,
        .unusable, .disabled, .persistent, MemoryType(rawValue: 12), MemoryType(rawValue: 20),
    ]

    /// Up to 24 entries within `[0, space)`.
    static func entries(_ rng: inout SplitMix64, space: UInt64) -> [E820Entry] {
        let count = rng.int(in: 1...24)
        return (0..<count).map { _ in
            let alignment: UInt64 = rng.pick([1, 0x400, 0x1000, 0x1000, 0x20_0000])
            let base = rng.uint64(below: space) & ~(alignment - 1)
            let length: UInt64
            switch rng.int(in: 0...9) {
            case 0: length = 0
            case 1...3: length = rng.uint64(in: 1...0x1_0000)
            case 4...6: length = rng.uint64(in: 1...0x100_0000)
            default: length = rng.uint64(in: 1...(space / 2))
            }
            return E820Entry(base: base, length: length & ~(alignment - 1) | (length < alignment ? length : 0),
                             type: rng.pick(types))
        }
    }

    /// Ranges anywhere in `[0, space)`, unaligned, possibly overlapping.
    static func ranges(_ rng: inout SplitMix64, count: ClosedRange<Int>, space: UInt64, maxLength: UInt64) -> [PhysicalRange] {
        (0..<rng.int(in: count)).map { _ in
            let start = rng.uint64(below: space)
            return PhysicalRange(start: start, length: rng.uint64(in: 1...maxLength))
        }
    }
}
