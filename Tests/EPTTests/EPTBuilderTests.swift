@testable import EPT
import Primitives
import Testing

/// EPT for the Bochs map with pxHV's region hidden, built into fake memory
/// and read back with the walker.
@Suite struct EPTBuilderTests {
    /// Tables live far above the guest's address space, so that a builder
    /// bug writing through a GPA cannot be mistaken for a table.
    static let tableArea: UInt64 = 0x8000_0000_0000

    struct Built {
        var memory: FakePhysicalMemory
        var layout: EPTIdentityLayout
        var builder: EPTBuilder<FakePhysicalMemory>
        var walker: EPTWalker<FakePhysicalMemory> { EPTWalker(memory: memory, pointer: builder.pointer()) }
    }

    static func build(supports1GiB: Bool) throws -> Built {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        let layout = try EPTIdentityLayout(map: map, hiding: PhysicalRangeList([Fixtures.hiddenRegion]))
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: tableArea)
        var builder = try EPTBuilder(memory: memory, supports1GiB: supports1GiB, pages: &pages)
        try builder.map(layout, pages: &pages)
        return Built(memory: memory, layout: layout, builder: builder)
    }

    @Test func bochsLayout() throws {
        let layout = try EPTIdentityLayout(
            map: try Fixtures.map(Fixtures.bochs512MiB), hiding: PhysicalRangeList([Fixtures.hiddenRegion])
        ).regions
        #expect(layout.map(\.range) == [
            PhysicalRange(start: 0, end: 0x9_F000),
            PhysicalRange(start: 0x9_F000, end: 0x10_0000),  // EBDA, VGA hole, BIOS: one UC run
            PhysicalRange(start: 0x10_0000, end: 0x20_0000),
            PhysicalRange(start: 0x400_0000, end: 0x2000_0000),  // RAM and ACPI tables: one WB run
            PhysicalRange(start: 0x2000_0000, end: 0x1_0000_0000),  // MMIO up to 4 GiB
        ])
        #expect(layout.map(\.memoryType) == [.writeBack, .uncacheable, .writeBack, .writeBack, .uncacheable])
        #expect(layout.allSatisfy { $0.permissions == .all })
    }

    @Test func ramMapsToItself() throws {
        let built = try Self.build(supports1GiB: true)
        let walker = built.walker
        var sampled = 0
        for range in try Fixtures.map(Fixtures.bochs512MiB).ranges(of: .usable) {
            // Every 7th page plus both ends of each range.
            for address in Array(stride(from: range.start, to: range.end, by: 0x7000)) + [range.end - 1] {
                if Fixtures.hiddenRegion.contains(address) { continue }
                let mapping = try #require(walker.translate(address).mapping, "GPA \(address)")
                #expect(mapping.hostPhysicalAddress == address)
                #expect(mapping.memoryType == .writeBack)
                #expect(mapping.permissions == .all)
                #expect(!mapping.ignoresPAT)
                sampled += 1
            }
        }
        #expect(sampled > 10_000)
    }

    @Test func hiddenRegionIsNotMapped() throws {
        let walker = try Self.build(supports1GiB: true).walker
        var address = Fixtures.hiddenRegion.start
        while address < Fixtures.hiddenRegion.end {
            #expect(walker.translate(address).mapping == nil, "GPA \(address) leaks the hypervisor")
            address += 0x1_F000  // every 31st page, hitting every 2 MiB block
        }
        #expect(walker.translate(Fixtures.hiddenRegion.start) == .notPresent(level: .pageDirectory))
        #expect(walker.translate(Fixtures.hiddenRegion.end - 1) == .notPresent(level: .pageDirectory))
        #expect(walker.translate(Fixtures.hiddenRegion.start - 1).mapping != nil)
        #expect(walker.translate(Fixtures.hiddenRegion.end).mapping != nil)
    }

    @Test func mmioIsUncacheable() throws {
        let walker = try Self.build(supports1GiB: true).walker
        for address: UInt64 in [0xA_0000, 0xB_8000, 0xFEC0_0000, 0xFEE0_0000, 0xFFFF_FFF0, 0xE000_0000] {
            let mapping = try #require(walker.translate(address).mapping, "GPA \(address)")
            #expect(mapping.hostPhysicalAddress == address)
            #expect(mapping.memoryType == .uncacheable)
        }
        #expect(walker.translate(0xFEE0_0000).mapping?.pageSize == .size1GiB)
        #expect(walker.translate(0x1_0000_0000) == .notPresent(level: .pageDirectoryPointerTable))
        #expect(walker.translate(0x1_0000_0000_0000) == .beyondAddressWidth)
    }

    /// Hand count for the layout above: 512 4 KiB leaves cover the first
    /// 2 MiB ([0, 0x9F000) 159, [0x9F000, 0x100000) 97, [1 MiB, 2 MiB) 256);
    /// [64 MiB, 512 MiB) is 224 2 MiB leaves; [512 MiB, 1 GiB) 256 more;
    /// [1 GiB, 4 GiB) is three 1 GiB leaves, or 1536 2 MiB leaves.
    @Test func leavesAreAsLargeAsAllowed() throws {
        for supports1GiB in [true, false] {
            let built = try Self.build(supports1GiB: supports1GiB)
            var counted = EPTLeafCounts()
            var mappedBytes: UInt64 = 0
            built.walker.forEachLeaf { leaf in
                counted[leaf.pageSize] += 1
                mappedBytes += leaf.pageSize.bytes
            }
            let expected = supports1GiB
                ? EPTLeafCounts(size4KiB: 512, size2MiB: 480, size1GiB: 3)
                : EPTLeafCounts(size4KiB: 512, size2MiB: 2016, size1GiB: 0)
            #expect(counted == expected, "supports1GiB: \(supports1GiB)")
            #expect(built.builder.leafCounts == expected)
            #expect(mappedBytes == 0x1_0000_0000 - Fixtures.hiddenRegion.length)
            // PML4, PDPT, PD(s), one PT for the first 2 MiB.
            #expect(built.builder.tablePages == (supports1GiB ? 4 : 7))
        }
    }

    @Test func tablesComeFromTheHypervisorPool() throws {
        // The intended boot flow: carve a pool from the map, hide it (with
        // the payload) from the guest, and take EPT tables from the pool.
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        let payload = PhysicalRange(start: 0x20_0000, end: 0x80_0000)
        var boot = try FrameAllocator(map: map, excluding: PhysicalRangeList([payload]))
        let pool = PhysicalRange(start: try boot.allocate(pages: 0x1000, alignment: 0x20_0000), length: 0x100_0000)
        var pages = try FrameAllocator(map: map, excluding: PhysicalRangeList([payload]), window: pool)
        let hidden = PhysicalRange(start: payload.start, end: pool.end)

        let memory = FakePhysicalMemory()
        var builder = try EPTBuilder(memory: memory, supports1GiB: true, pages: &pages)
        try builder.map(try EPTIdentityLayout(map: map.reserving(hidden), hiding: PhysicalRangeList([hidden])), pages: &pages)
        #expect(pages.allocatedPages == builder.tablePages)
        #expect(pool.contains(builder.pml4Address))
        let walker = EPTWalker(memory: memory, pointer: builder.pointer())
        #expect(walker.translate(builder.pml4Address).mapping == nil, "the guest must not see its EPT")
        #expect(walker.translate(pool.end).mapping?.memoryType == .writeBack)
    }

    @Test func rejectsBadRequests() throws {
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: Self.tableArea)
        var builder = try EPTBuilder(memory: memory, supports1GiB: false, pages: &pages)
        let page = PhysicalRange(start: 0x1000, end: 0x2000)
        #expect(throws: EPTBuildError.unalignedRange(PhysicalRange(start: 0x1000, end: 0x1800))) {
            try builder.map(PhysicalRange(start: 0x1000, end: 0x1800), permissions: .all, memoryType: .writeBack, pages: &pages)
        }
        #expect(throws: EPTBuildError.invalidPermissions(.write)) {
            try builder.map(page, permissions: .write, memoryType: .writeBack, pages: &pages)
        }
        #expect(throws: EPTBuildError.invalidPermissions([])) {
            try builder.map(page, permissions: [], memoryType: .writeBack, pages: &pages)
        }
        #expect(throws: EPTBuildError.invalidMemoryType(EPTMemoryType(rawValue: 2))) {
            try builder.map(page, permissions: .all, memoryType: EPTMemoryType(rawValue: 2), pages: &pages)
        }
        let beyond = PhysicalRange(start: 0xFFFF_FFFF_F000, end: 0x1_0000_0000_1000)
        #expect(throws: EPTBuildError.beyondAddressWidth(beyond)) {
            try builder.map(beyond, permissions: .all, memoryType: .writeBack, pages: &pages)
        }
        try builder.map(PhysicalRange(start: 0x20_0000, end: 0x40_0000), permissions: .all, memoryType: .writeBack, pages: &pages)
        #expect(throws: EPTBuildError.overlapping(at: 0x20_0000)) {
            try builder.map(PhysicalRange(start: 0x20_0000, end: 0x20_1000), permissions: .all, memoryType: .writeBack, pages: &pages)
        }
        try builder.map(page, permissions: .read, memoryType: .writeBack, pages: &pages)
        #expect(throws: EPTBuildError.overlapping(at: 0)) {
            try builder.map(PhysicalRange(start: 0, end: 0x20_0000), permissions: .all, memoryType: .writeBack, pages: &pages)
        }
        let walker = EPTWalker(memory: memory, pointer: builder.pointer())
        #expect(walker.translate(0x1abc).mapping?.permissions == .read)
    }

    @Test func runsOutOfPages() throws {
        var pages = BumpPageSource(next: Self.tableArea, limit: Self.tableArea + 0x3000)
        var builder = try EPTBuilder(memory: FakePhysicalMemory(), supports1GiB: false, pages: &pages)
        // PML4 + PDPT + PD fit; the PT does not.
        #expect(throws: EPTBuildError.outOfPages) {
            try builder.map(PhysicalRange(start: 0x1000, end: 0x2000), permissions: .all, memoryType: .writeBack, pages: &pages)
        }
    }

    @Test func newTablesAreZeroed() throws {
        let memory = FakePhysicalMemory()
        // Garbage where the tables will go.
        for offset in stride(from: UInt64(0), to: 0x4000, by: 8) { memory.store(UInt64.max, at: Self.tableArea + offset) }
        var pages = BumpPageSource(next: Self.tableArea)
        var builder = try EPTBuilder(memory: memory, supports1GiB: false, pages: &pages)
        try builder.map(PhysicalRange(start: 0x20_0000, end: 0x40_0000), permissions: .all, memoryType: .writeBack, pages: &pages)
        var leaves = 0
        EPTWalker(memory: memory, pointer: builder.pointer()).forEachLeaf { _ in leaves += 1 }
        #expect(leaves == 1)
    }

    @Test func walkerReportsMisconfigurations() throws {
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: Self.tableArea)
        var builder = try EPTBuilder(memory: memory, supports1GiB: false, pages: &pages)
        try builder.map(PhysicalRange(start: 0, end: 0x40_0000), permissions: .all, memoryType: .writeBack, pages: &pages)
        let pd = Self.tableArea + 0x2000  // PML4, PDPT, then this PD
        let walker = EPTWalker(memory: memory, pointer: builder.pointer())
        #expect(walker.translate(0).mapping?.pageSize == .size2MiB)

        memory.store(UInt64(0xB2), at: pd)  // 2 MiB leaf, write-only
        #expect(walker.translate(0) == .misconfigured(level: .pageDirectory, entry: EPTEntry(rawValue: 0xB2)))
        memory.store(UInt64(0x9F), at: pd)  // memory type 3 (reserved)
        #expect(walker.translate(0) == .misconfigured(level: .pageDirectory, entry: EPTEntry(rawValue: 0x9F)))
        memory.store(UInt64(0x1000B7), at: pd)  // address bit 20 set in a 2 MiB leaf
        #expect(walker.translate(0) == .misconfigured(level: .pageDirectory, entry: EPTEntry(rawValue: 0x1000B7)))
        memory.store(EPTEntry.table(at: pd).rawValue | 0x8, at: Self.tableArea)  // reserved bit 3 in the PML4E
        #expect(walker.translate(0x20_0000) == .misconfigured(level: .pml4, entry: EPTEntry(rawValue: pd | 0xF)))
    }
}

@Suite struct EPTIdentityLayoutTests {
    @Test func rejectsATopBeyond48Bits() throws {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        #expect(throws: EPTLayoutError.beyondAddressWidth) {
            try EPTIdentityLayout(map: map, top: 0x1_0000_0000_1000)
        }
        #expect(try EPTIdentityLayout(map: map, top: 0x1_0000_0000_0000).top == 0x1_0000_0000_0000)
    }

    @Test func topDefaultsToFourGiBOrTheEndOfTheMap() throws {
        let small = try EPTIdentityLayout(map: Fixtures.map(Fixtures.qemu512MiB))
        #expect(small.top == 0x1_0000_0000)
        let big = try EPTIdentityLayout(map: PhysicalMemoryMap(e820: Fixtures.qemu512MiB + [
            E820Entry(base: 0x1_0000_0000, length: 0x4000_0000, type: .usable),
            E820Entry(base: 0x1_4000_0000, length: 0x800, type: .reserved),
        ]))
        // Rounded up to the page holding the last reserved byte.
        #expect(big.top == 0x1_4000_1000)
        #expect(big.regions.suffix(2) == [
            EPTRegion(range: PhysicalRange(start: 0x1_0000_0000, end: 0x1_4000_0000), memoryType: .writeBack),
            EPTRegion(range: PhysicalRange(start: 0x1_4000_0000, end: 0x1_4000_1000), memoryType: .uncacheable),
        ])
    }

    @Test func pageSharedByTwoMemoryTypesIsWriteBack() throws {
        // ACPI tables and NVS meeting mid-page: both memory, so the page is WB.
        let map = try PhysicalMemoryMap(e820: [
            E820Entry(base: 0x10_0000, length: 0xF_0000, type: .usable),
            E820Entry(base: 0x1F_0000, length: 0x800, type: .acpiReclaimable),
            E820Entry(base: 0x1F_0800, length: 0xF800, type: .acpiNVS),
        ])
        let layout = try EPTIdentityLayout(map: map, top: 0x20_0000).regions
        #expect(layout == [
            EPTRegion(range: PhysicalRange(start: 0, end: 0x10_0000), memoryType: .uncacheable),
            EPTRegion(range: PhysicalRange(start: 0x10_0000, end: 0x20_0000), memoryType: .writeBack),
        ])
    }

    @Test func pageSharedByRAMAndReservedIsUncacheable() throws {
        // The map already drops the partial RAM page (a hole); the layout
        // maps the hole and the reserved bytes UC.
        let map = try PhysicalMemoryMap(e820: [
            E820Entry(base: 0x10_0000, length: 0xF_0800, type: .usable),
            E820Entry(base: 0x1F_0800, length: 0xF800, type: .reserved),
        ])
        let layout = try EPTIdentityLayout(map: map, top: 0x20_0000).regions
        #expect(layout == [
            EPTRegion(range: PhysicalRange(start: 0, end: 0x10_0000), memoryType: .uncacheable),
            EPTRegion(range: PhysicalRange(start: 0x10_0000, end: 0x1F_0000), memoryType: .writeBack),
            EPTRegion(range: PhysicalRange(start: 0x1F_0000, end: 0x20_0000), memoryType: .uncacheable),
        ])
    }

    @Test func hiddenRangesAreRoundedOut() throws {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        let layout = try EPTIdentityLayout(
            map: map, hiding: PhysicalRangeList([PhysicalRange(start: 0x30_0800, end: 0x30_1001)]), top: 0x40_0000
        ).regions
        #expect(layout.region(containing: 0x30_0000) == nil)
        #expect(layout.region(containing: 0x30_1FFF) == nil)
        #expect(layout.region(containing: 0x2F_FFFF)?.memoryType == .writeBack)
        #expect(layout.region(containing: 0x30_2000)?.memoryType == .writeBack)
    }
}
