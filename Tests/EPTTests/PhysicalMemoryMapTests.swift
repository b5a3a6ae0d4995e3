@testable import EPT
import Primitives
import Testing

@Suite struct PhysicalMemoryMapTests {
    @Test func bochsMapSanitizesToItsOwnRegions() throws {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        #expect(map.map(\.type) == [.usable, .reserved, .reserved, .usable, .acpiReclaimable, .reserved])
        #expect(map.usableBytes == 0x9_F000 + 0x1FEF_0000)
        #expect(map.highestUsableAddress == 0x1FFE_FFFF)
        #expect(map.end == 0x1_0000_0000)
        #expect(map.contains(PhysicalRange(start: 0x10_0000, end: 0x1FFF_0000), type: .usable))
        #expect(!map.contains(PhysicalRange(start: 0x10_0000, end: 0x1FFF_1000), type: .usable))
        #expect(map.type(at: 0xA_0000) == nil)  // VGA hole: in no entry
        #expect(map.type(at: 0xFEE0_0000) == nil)  // LAPIC: MMIO is not in E820
        #expect(map.type(at: 0xFFFF_FFF0) == .reserved)  // reset vector ROM
    }

    @Test func qemuMapTrimsTheUnalignedLowRAMEnd() throws {
        let map = try Fixtures.map(Fixtures.qemu512MiB)
        // 0x9FC00 is not a page boundary: the partial page becomes a hole.
        #expect(map.ranges(of: .usable).first == PhysicalRange(start: 0, end: 0x9_F000))
        #expect(map.type(at: 0x9_F000) == nil)
        #expect(map.type(at: 0x9_FC00) == .reserved)
        #expect(map.ranges(of: .reserved).count == 4)
        #expect(map.usableBytes == 0x9_F000 + 0x1FEE_0000)
    }

    @Test func unsortedOverlappingAndEmptyEntries() throws {
        let map = try PhysicalMemoryMap(e820: [
            E820Entry(base: 0x10_0000, length: 0x100_0000, type: .usable),
            E820Entry(base: 0x50_0000, length: 0, type: .reserved),  // empty: dropped
            E820Entry(base: 0, length: 0x9_F000, type: .usable),
            E820Entry(base: 0x80_0000, length: 0x10_0000, type: .reserved),  // inside RAM: wins
            E820Entry(base: 0x100_0000, length: 0x20_0000, type: .usable),  // overlaps and extends RAM
            E820Entry(base: 0x10F_F000, length: 0x2000, type: .acpiNVS),  // straddles
        ])
        #expect(Array(map) == [
            MemoryRegion(range: PhysicalRange(start: 0, end: 0x9_F000), type: .usable),
            MemoryRegion(range: PhysicalRange(start: 0x10_0000, end: 0x80_0000), type: .usable),
            MemoryRegion(range: PhysicalRange(start: 0x80_0000, end: 0x90_0000), type: .reserved),
            MemoryRegion(range: PhysicalRange(start: 0x90_0000, end: 0x10F_F000), type: .usable),
            MemoryRegion(range: PhysicalRange(start: 0x10F_F000, end: 0x110_1000), type: .acpiNVS),
            MemoryRegion(range: PhysicalRange(start: 0x110_1000, end: 0x120_0000), type: .usable),
        ])
    }

    @Test func moreRestrictiveTypeWins() throws {
        let span = E820Entry(base: 0x1000, length: 0x1000, type: .usable)
        func winner(_ a: MemoryType, _ b: MemoryType) throws -> MemoryType? {
            var first = span, second = span
            first.type = a
            second.type = b
            let forward = try PhysicalMemoryMap(e820: [first, second]).type(at: 0x1000)
            let backward = try PhysicalMemoryMap(e820: [second, first]).type(at: 0x1000)
            #expect(forward == backward, "order of entries must not matter")
            return forward
        }
        #expect(try winner(.usable, .acpiReclaimable) == .acpiReclaimable)
        // Unlike Linux (larger number wins), reserved beats ACPI reclaimable.
        #expect(try winner(.reserved, .acpiReclaimable) == .reserved)
        #expect(try winner(.acpiNVS, .reserved) == .reserved)
        #expect(try winner(.reserved, .unusable) == .unusable)
        #expect(try winner(.disabled, .unusable) == .disabled)
        #expect(try winner(MemoryType(rawValue: 12), .usable) == MemoryType(rawValue: 12))
    }

    @Test func lengthOverflowIsClamped() throws {
        let map = try PhysicalMemoryMap(e820: [E820Entry(base: 0xFFFF_FFFF_FFFF_0000, length: 0x10_0000, type: .reserved)])
        #expect(map.first?.range == PhysicalRange(start: 0xFFFF_FFFF_FFFF_0000, end: .max))
    }

    @Test func tooManyEntriesIsAnError() {
        let entries = (0..<129).map { E820Entry(base: UInt64($0) * 0x2000, length: 0x1000, type: .usable) }
        #expect(throws: MemoryMapError.tooManyEntries) { try PhysicalMemoryMap(e820: entries) }
        #expect(throws: Never.self) { try PhysicalMemoryMap(e820: entries.dropLast()) }
    }

    @Test func reservingTheHypervisorRegion() throws {
        let map = try Fixtures.map(Fixtures.bochs512MiB).reserving(PhysicalRange(start: 0x20_0000, end: 0x400_0800))
        #expect(map.type(at: 0x1F_F000) == .usable)
        #expect(map.type(at: 0x20_0000) == .reserved)
        #expect(map.type(at: 0x400_07FF) == .reserved)
        // The rest of the page cut by the unaligned end is no longer RAM.
        #expect(map.type(at: 0x400_0800) == nil)
        #expect(map.type(at: 0x400_1000) == .usable)
        #expect(map.ranges(of: .usable).count == 3)
        #expect(map.usableBytes == 0x9_F000 + 0x1FEF_0000 - (0x400_1000 - 0x20_0000))
    }

    @Test func markingMergesWithNeighboursOfTheSameType() throws {
        let base = try Fixtures.map(Fixtures.bochs512MiB)
        let map = try base.marking(PhysicalRange(start: 0x9_F000, end: 0xE_8000), as: .reserved)
        #expect(map.ranges(of: .reserved).first == PhysicalRange(start: 0x9_F000, end: 0x10_0000))
        let beyond = try base.marking(PhysicalRange(start: 0x2_0000_0000, end: 0x2_0000_1000), as: .persistent)
        #expect(beyond.last == MemoryRegion(range: PhysicalRange(start: 0x2_0000_0000, end: 0x2_0000_1000), type: .persistent))
    }

    @Test func readsTheE820TableFromBootInfo() throws {
        // Stage 2 writes BootInfo at 0x1000 with the entries at offset 64.
        let memory = FakePhysicalMemory()
        let table: UInt64 = 0x1000 + 64
        for (index, entry) in Fixtures.qemu512MiB.enumerated() {
            let at = table + UInt64(index) * 24
            memory.store(entry.base, at: at)
            memory.store(entry.length, at: at + 8)
            memory.store(entry.type.rawValue, at: at + 16)
            memory.store(UInt32(1), at: at + 20)
        }
        let e820 = E820Table(memory: memory, address: table, count: Fixtures.qemu512MiB.count)
        #expect(Array(e820) == Fixtures.qemu512MiB)
        #expect(try PhysicalMemoryMap(e820: e820) == Fixtures.map(Fixtures.qemu512MiB))
    }
}
