@testable import EPT

/// E820 maps reported by real firmware for a 512 MiB guest.
enum Fixtures {
    /// Bochs 2.7 with `megs: 512`, as its rombios (`rombios.c`, INT 15h
    /// E820) reports it, reconstructed from the BIOS source rather than
    /// captured from a boot: replace with the captured map if it differs.
    static let bochs512MiB: [E820Entry] = [
        E820Entry(base: 0x0, length: 0x9_F000, type: .usable),
        E820Entry(base: 0x9_F000, length: 0x1000, type: .reserved),
        E820Entry(base: 0xE_8000, length: 0x1_8000, type: .reserved),
        E820Entry(base: 0x10_0000, length: 0x1FEF_0000, type: .usable),
        E820Entry(base: 0x1FFF_0000, length: 0x1_0000, type: .acpiReclaimable),
        E820Entry(base: 0xFFFC_0000, length: 0x4_0000, type: .reserved),
    ]

    /// QEMU 7.2 / SeaBIOS with `-m 512`.
    static let qemu512MiB: [E820Entry] = [
        E820Entry(base: 0x0, length: 0x9_FC00, type: .usable),
        E820Entry(base: 0x9_FC00, length: 0x400, type: .reserved),
        E820Entry(base: 0xF_0000, length: 0x1_0000, type: .reserved),
        E820Entry(base: 0x10_0000, length: 0x1FEE_0000, type: .usable),
        E820Entry(base: 0x1FFE_0000, length: 0x2_0000, type: .reserved),
        E820Entry(base: 0xFFFC_0000, length: 0x4_0000, type: .reserved),
    ]

    /// Where pxHV hides itself in the EPT tests: from the payload base
    /// (PAYLOAD_BASE, 2 MiB) to 64 MiB.
    static let hiddenRegion = PhysicalRange(start: 0x20_0000, end: 0x400_0000)

    static func map(_ entries: [E820Entry]) throws -> PhysicalMemoryMap {
        try PhysicalMemoryMap(e820: entries)
    }

    /// The identity EPT of the Bochs map with `hiddenRegion` unmapped, in
    /// fake memory, its tables taken from a page source far above it
    /// (which is returned too, for tests that take more pages).
    static func bochsEPT(supports1GiB: Bool = true) throws -> (FakePhysicalMemory, EPTPointer, BumpPageSource) {
        let layout = try EPTIdentityLayout(map: map(bochs512MiB), hiding: PhysicalRangeList([hiddenRegion]))
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: 0x8000_0000_0000)
        var builder = try EPTBuilder(memory: memory, supports1GiB: supports1GiB, pages: &pages)
        try builder.map(layout, pages: &pages)
        return (memory, builder.pointer(), pages)
    }
}

extension PhysicalRangeList {
    init(_ ranges: [PhysicalRange]) {
        self.init()
        for range in ranges { try! append(range) }
    }
}

extension EPTIdentityLayout {
    /// The regions as an array (tests only: the library never stores them).
    var regions: [EPTRegion] {
        var regions: [EPTRegion] = []
        forEachRegion { regions.append($0) }
        return regions
    }
}

extension Array where Element == EPTRegion {
    func region(containing address: UInt64) -> EPTRegion? {
        // Sorted and disjoint: binary search.
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid].range.end <= address { low = mid + 1 } else { high = mid }
        }
        return low < count && self[low].range.contains(address) ? self[low] : nil
    }
}
