import Primitives
import Testing
@testable import EPT

/// The in-place reads the exit path relies on: they cast a struct's address
/// to its first stored property's, so the layout they assume is checked here.
@Suite("Reading a memory map in place")
struct InPlaceReadTests {
    @Test func regionsAreAtOffsetZero() {
        #expect(MemoryLayout<PhysicalMemoryMap>.offset(of: \PhysicalMemoryMap.regions) == 0)
    }

    @Test func containsThroughAPointerAgreesWithTheMethod() throws {
        let map = try PhysicalMemoryMap(e820: [
            E820Entry(base: 0, length: 0x9_F000, type: .usable),
            E820Entry(base: 0x10_0000, length: 0x1FF0_0000, type: .usable),
            E820Entry(base: 0xFEC0_0000, length: 0x1000, type: .reserved),
        ])
        let probes: [(PhysicalRange, MemoryType)] = [
            (PhysicalRange(start: 0x1000, end: 0x2000), .usable),
            (PhysicalRange(start: 0x9_E000, end: 0xA_0000), .usable),
            (PhysicalRange(start: 0x20_0000, end: 0x30_0000), .usable),
            (PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000), .reserved),
            (PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000), .usable),
            (PhysicalRange(start: 0x2000_0000, end: 0x2000_1000), .usable),
        ]
        var agreed = 0
        withUnsafePointer(to: map) { pointer in
            for (range, type) in probes {
                #expect(PhysicalMemoryMap.contains(pointer, range, type: type) == map.contains(range, type: type))
                agreed += 1
            }
        }
        #expect(agreed == probes.count)
        // And it is not vacuous: some answers are true, some false.
        #expect(map.contains(probes[0].0, type: .usable) && !map.contains(probes[4].0, type: .usable))
    }
}
