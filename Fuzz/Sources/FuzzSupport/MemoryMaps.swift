import EPT
import Primitives

/// Memory maps for the loader targets.
public enum FuzzMaps {
    /// A small PC as the guest sees it: 128 MiB of RAM, the BIOS hole, the
    /// hypervisor's region [2 MiB, 8 MiB) reserved, the 4 GiB MMIO hole.
    public static let guest: PhysicalMemoryMap = {
        let entries = [
            E820Entry(base: 0, length: 0x9_F000, type: .usable),
            E820Entry(base: 0x9_F000, length: 0x6_1000, type: .reserved),
            E820Entry(base: 0x10_0000, length: 0x7F0_0000, type: .usable),
            E820Entry(base: 0xFEC0_0000, length: 0x140_0000, type: .reserved),
        ]
        do throws(MemoryMapError) {
            return try PhysicalMemoryMap(e820: entries).reserving(PhysicalRange(start: 0x20_0000, end: 0x80_0000))
        } catch {
            fatalError("the fixed guest map is valid")
        }
    }()

    /// A map of up to 15 raw E820 entries from the input (count in the low
    /// nibble of one byte, each entry base u64, length u64, type u8);
    /// nil when the entries make no map (too many regions).
    public static func map(from input: inout FuzzInput) -> PhysicalMemoryMap? {
        let count = Int(input.take(UInt8.self) & 0xF)
        var entries: [E820Entry] = []
        for _ in 0..<count {
            entries.append(E820Entry(base: input.take(), length: input.take(),
                                     type: MemoryType(rawValue: UInt32(input.take(UInt8.self) % 8))))
        }
        do throws(MemoryMapError) {
            let map = try PhysicalMemoryMap(e820: entries)
            checkInvariants(map)
            return map
        } catch {
            _ = error.message
            return nil
        }
    }

    /// What `PhysicalMemoryMap` promises: sorted, non-empty, disjoint
    /// regions; touching neighbours differ in type; usable RAM in whole pages.
    public static func checkInvariants(_ map: PhysicalMemoryMap) {
        var previous: MemoryRegion?
        for region in map {
            fuzzCheck(!region.range.isEmpty, "empty region \(region)")
            if region.type == .usable {
                fuzzCheck(region.range.start % Page.size == 0 && region.range.end % Page.size == 0,
                          "usable region not page-aligned \(region)")
            }
            if let previous {
                fuzzCheck(previous.range.end <= region.range.start, "regions out of order or overlapping")
                fuzzCheck(previous.range.end < region.range.start || previous.type != region.type,
                          "touching regions of one type not merged")
            }
            previous = region
        }
    }
}
