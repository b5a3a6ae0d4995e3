@testable import EPT
import Primitives
import Testing

/// Nested page tables for the layouts the EPT tests use (the Bochs map with
/// pxHV's region hidden, here also with RAM above 4 GiB), built into fake
/// memory and read back with the walker and by hand.
@Suite struct NPTBuilderTests {
    static let tableArea: UInt64 = 0x8000_0000_0000

    /// The Bochs 512 MiB map plus 2 GiB of RAM above 4 GiB: holes below
    /// 1 MiB, the MMIO hole with the IOAPIC (0xFEC00000) and local APIC
    /// (0xFEE00000), the hypervisor hidden inside low RAM.
    static let bochsWithHighRAM = Fixtures.bochs512MiB + [
        E820Entry(base: 0x1_0000_0000, length: 0x8000_0000, type: .usable)
    ]

    struct Built {
        var memory: FakePhysicalMemory
        var layout: EPTIdentityLayout
        var builder: NPTBuilder<FakePhysicalMemory>
        var walker: NPTWalker<FakePhysicalMemory> { NPTWalker(memory: memory, nestedCR3: builder.nestedCR3) }
    }

    static func layout(_ e820: [E820Entry]) throws -> EPTIdentityLayout {
        try EPTIdentityLayout(map: Fixtures.map(e820), hiding: PhysicalRangeList([Fixtures.hiddenRegion]))
    }

    static func build(_ e820: [E820Entry] = bochsWithHighRAM, supports1GiB: Bool) throws -> Built {
        let layout = try layout(e820)
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: tableArea)
        var builder = try NPTBuilder(memory: memory, supports1GiB: supports1GiB, pages: &pages)
        try builder.map(layout, pages: &pages)
        return Built(memory: memory, layout: layout, builder: builder)
    }

    /// The raw entries a 4-level walk of `address` reads, found by hand
    /// (bits 47:39, 38:30, 29:21, 20:12 index the tables; PS at bit 7 stops
    /// at a PDPE or PDE), independent of the walker under test.
    static func path(of address: UInt64, root: UInt64, in memory: FakePhysicalMemory) -> [UInt64] {
        var entries: [UInt64] = []
        var table = root
        for level in stride(from: 4, through: 1, by: -1) {
            let entry = memory.load(UInt64.self, at: table + ((address >> UInt64(12 + 9 * (level - 1))) & 0x1FF) * 8)
            entries.append(entry)
            if entry & 1 == 0 || level == 1 || (level <= 3 && entry & 0x80 != 0) { break }
            table = entry & 0x000F_FFFF_FFFF_F000
        }
        return entries
    }

    @Test func ramMapsToItselfWriteBack() throws {
        let built = try Self.build(supports1GiB: true)
        let walker = built.walker
        var sampled = 0
        for range in try Fixtures.map(Self.bochsWithHighRAM).ranges(of: .usable) {
            for address in Array(stride(from: range.start, to: range.end, by: 0x7_1000)) + [range.end - 1] {
                if Fixtures.hiddenRegion.contains(address) { continue }
                let mapping = try #require(walker.translate(address).mapping, "GPA \(address)")
                #expect(mapping.hostPhysicalAddress == address)
                #expect(mapping.patIndex == 0 && mapping.memoryType == .writeBack)
                #expect(mapping.permissions == .all)
                // U/S, R/W, P at every level of the walk; NX nowhere.
                let path = Self.path(of: address, root: built.builder.pml4Address, in: built.memory)
                #expect(path.allSatisfy { $0 & 0x7 == 0x7 && $0 >> 63 == 0 }, "GPA \(address): \(path)")
                sampled += 1
            }
        }
        #expect(sampled > 1000)
        #expect(walker.translate(0x1_2345_6789).mapping?.pageSize == .size1GiB)
        #expect(walker.translate(0x1_8000_0000) == .notPresent(level: .pageDirectoryPointerTable))
    }

    /// No leaf's frames touch the hidden region, and the walk stops at the
    /// page directory on both of its ends while the pages beside it map.
    @Test(arguments: [false, true])
    func hiddenRegionIsNotMapped(supports1GiB: Bool) throws {
        let walker = try Self.build(supports1GiB: supports1GiB).walker
        #expect(IsolationCheck.firstLeaf(exposing: Fixtures.hiddenRegion, in: walker) == nil)
        let hidden = Fixtures.hiddenRegion
        let outcomes = [hidden.start - 1, hidden.start, hidden.end - 1, hidden.end].map { walker.translate($0) }
        #expect(outcomes[1] == .notPresent(level: .pageDirectory) && outcomes[2] == outcomes[1])
        #expect(outcomes[0].mapping?.hostPhysicalAddress == hidden.start - 1)
        #expect(outcomes[3].mapping?.hostPhysicalAddress == hidden.end)
    }

    @Test func mmioAndHolesAreUncacheable() throws {
        let walker = try Self.build(supports1GiB: true).walker
        for address: UInt64 in [0x9_F800, 0xA_0000, 0xB_8000, 0xFEC0_0000, 0xFEE0_0000, 0xFFFF_FFF0, 0xE000_0000] {
            let mapping = try #require(walker.translate(address).mapping, "GPA \(address)")
            #expect(mapping.hostPhysicalAddress == address)
            #expect(mapping.patIndex == 3 && mapping.memoryType == .uncacheable, "GPA \(address)")
            #expect(mapping.entry.isWriteThrough && mapping.entry.isCacheDisabled)
            #expect(mapping.permissions == .all)
        }
        #expect(walker.translate(0x1_0000_0000_0000) == .beyondAddressWidth)
    }

    /// Every entry the walk can reach: U/S, P, A set; leaves also R/W, D and
    /// executable; table references with PWT = PCD = 0 (write-back walks).
    @Test(arguments: [false, true])
    func everyReachableEntryIsUserAndPreAccessed(supports1GiB: Bool) throws {
        let built = try Self.build(supports1GiB: supports1GiB)
        var frames: [UInt64] = []
        built.walker.forEachTableFrame { frames.append($0) }
        #expect(frames.count == built.builder.tablePages)
        #expect(frames.first == built.builder.pml4Address)
        var leaves = 0, references = 0
        for frame in frames {
            for index in 0..<UInt64(512) {
                let entry = NPTEntry(rawValue: built.memory.load(UInt64.self, at: frame + index * 8))
                guard entry.isPresent else {
                    #expect(entry.rawValue == 0)
                    continue
                }
                #expect(entry.isUser && entry.isAccessed && entry.isWritable && entry.isExecutable)
                #expect(!entry.isGlobal && entry[bits: 9...11] == 0 && entry[bits: 52...62] == 0)
                let isTable = frames.contains(entry.physicalAddress)
                if isTable {
                    references += 1
                    #expect(!entry.isDirty && !entry.isLargePage && !entry.isWriteThrough && !entry.isCacheDisabled)
                } else {
                    leaves += 1
                    #expect(entry.isDirty)
                }
            }
        }
        #expect(references == built.builder.tablePages - 1)
        let counts = built.builder.leafCounts
        #expect(leaves == counts.size4KiB + counts.size2MiB + counts.size1GiB)
    }

    /// Hand count (as in the EPT test, plus [4 GiB, 6 GiB)): 512 4 KiB
    /// leaves for the first 2 MiB; [64 MiB, 1 GiB) is 480 2 MiB leaves;
    /// [1 GiB, 4 GiB) three 1 GiB leaves or 1536 2 MiB ones; [4 GiB, 6 GiB)
    /// two 1 GiB leaves or 1024 2 MiB ones. Tables: PML4, PDPT, one page
    /// directory per GiB split into 2 MiB leaves, one page table.
    @Test(arguments: [
        (true, NPTLeafCounts(size4KiB: 512, size2MiB: 480, size1GiB: 5), 1 + 1 + 1 + 1),
        (false, NPTLeafCounts(size4KiB: 512, size2MiB: 3040, size1GiB: 0), 1 + 1 + 6 + 1),
    ])
    func leafCounts(supports1GiB: Bool, expected: NPTLeafCounts, tablePages: Int) throws {
        let built = try Self.build(supports1GiB: supports1GiB)
        #expect(built.builder.leafCounts == expected)
        #expect(built.builder.tablePages == tablePages)
        var walked = NPTLeafCounts()
        var bytes: UInt64 = 0
        built.walker.forEachLeaf {
            walked[$0.pageSize] += 1
            bytes += $0.pageSize.bytes
        }
        #expect(walked == expected)
        #expect(bytes == built.layout.top - Fixtures.hiddenRegion.length)
    }

    /// The same layout through both formats: the same leaves (address and
    /// size) with the same memory types and permissions.
    @Test(arguments: [false, true])
    func sameLeavesAsEPT(supports1GiB: Bool) throws {
        let npt = try Self.build(supports1GiB: supports1GiB)
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: Self.tableArea)
        var ept = try EPTBuilder(memory: memory, supports1GiB: supports1GiB, pages: &pages)
        try ept.map(npt.layout, pages: &pages)

        struct Leaf: Hashable { var gpa: UInt64, size: UInt64, type: UInt8, permissions: UInt8 }
        var eptLeaves: [Leaf] = [], nptLeaves: [Leaf] = []
        EPTWalker(memory: memory, pointer: ept.pointer()).forEachLeaf { leaf in
            eptLeaves.append(Leaf(gpa: leaf.guestPhysicalAddress, size: leaf.pageSize.bytes,
                                  type: leaf.entry.memoryType.rawValue, permissions: leaf.entry.permissions.rawValue))
        }
        npt.walker.forEachLeaf { leaf in
            let type = PageAttributeTable.reset[leaf.entry.patIndex(size: leaf.pageSize)]
            nptLeaves.append(Leaf(gpa: leaf.guestPhysicalAddress, size: leaf.pageSize.bytes,
                                  type: type.rawValue, permissions: leaf.entry.permissions.rawValue))
        }
        #expect(nptLeaves.count == eptLeaves.count && nptLeaves.count > 500)
        #expect(nptLeaves == eptLeaves)
        #expect(npt.builder.tablePages == ept.tablePages && npt.builder.leafCounts == ept.leafCounts)
    }

    /// Each bad request throws its error, whose one-line message names
    /// the format; the tables are left as they were.
    @Test func rejectsBadRequests() throws {
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: Self.tableArea)
        var builder = try NPTBuilder(memory: memory, supports1GiB: false, pages: &pages)
        try builder.map(PhysicalRange(start: 0x20_0000, end: 0x40_0000), permissions: .all, memoryType: .writeBack, pages: &pages)
        try builder.map(PhysicalRange(start: 0x1000, end: 0x2000), permissions: .read, memoryType: .writeThrough, pages: &pages)
        let beyond = PhysicalRange(start: 0xFFFF_FFFF_F000, end: 0x1_0000_0000_1000)
        let cases: [(PhysicalRange, EPTPermissions, EPTMemoryType, NPTBuildError, String)] = [
            (PhysicalRange(start: 0x1000, end: 0x1800), .all, .writeBack,
             .unalignedRange(PhysicalRange(start: 0x1000, end: 0x1800)), "NPT: range 0x1000-0x1800 is not page-aligned"),
            (PhysicalRange(start: 0x3000, end: 0x4000), .execute, .writeBack,
             .invalidPermissions(.execute), "NPT: invalid permissions 0x4"),
            (PhysicalRange(start: 0x3000, end: 0x4000), .all, .writeCombining,
             .invalidMemoryType(.writeCombining), "NPT: no host PAT entry holds memory type 1"),
            (beyond, .all, .writeBack, .beyondAddressWidth(beyond), "NPT: range ending 0x1000000001000 is beyond 48 bits"),
            (PhysicalRange(start: 0x20_0000, end: 0x20_1000), .all, .writeBack,
             .overlapping(at: 0x20_0000), "NPT: 0x200000 is already mapped"),
            (PhysicalRange(start: 0, end: 0x20_0000), .all, .writeBack, .overlapping(at: 0), "NPT: 0x0 is already mapped"),
        ]
        for (range, permissions, type, error, message) in cases {
            #expect(throws: error) { try builder.map(range, permissions: permissions, memoryType: type, pages: &pages) }
            #expect(error.message.description == message)
        }
        #expect(builder.tablePages == 4 && builder.leafCounts == NPTLeafCounts(size4KiB: 1, size2MiB: 1))
        let mapping = try #require(NPTWalker(memory: memory, nestedCR3: builder.nestedCR3).translate(0x1abc).mapping)
        #expect(mapping.permissions == .read && mapping.memoryType == .writeThrough && mapping.patIndex == 1)
        #expect(mapping.hostPhysicalAddress == 0x1abc)
    }

    @Test func runsOutOfPages() throws {
        var pages = BumpPageSource(next: Self.tableArea, limit: Self.tableArea + 0x3000)
        var builder = try NPTBuilder(memory: FakePhysicalMemory(), supports1GiB: false, pages: &pages)
        // PML4 + PDPT + PD fit; the PT does not.
        #expect(throws: NPTBuildError.outOfPages) {
            try builder.map(PhysicalRange(start: 0x1000, end: 0x2000), permissions: .all, memoryType: .writeBack, pages: &pages)
        }
        #expect(NPTBuildError.outOfPages.message == "NPT: out of pages for tables")
        // Not even a PML4.
        var empty = BumpPageSource(next: Self.tableArea, limit: Self.tableArea)
        #expect(throws: NPTBuildError.outOfPages) {
            _ = try NPTBuilder(memory: FakePhysicalMemory(), supports1GiB: true, pages: &empty)
        }
        // EPT says the same in its own name.
        #expect(EPTBuildError.outOfPages.message == "EPT: out of pages for tables")
        #expect(EPTBuildError.invalidMemoryType(EPTMemoryType(rawValue: 2)).message == "EPT: reserved memory type 2")
    }

    @Test func misalignedFrameFromThePageSource() throws {
        var pages = BumpPageSource(next: Self.tableArea + 0x800)
        #expect(throws: NPTBuildError.misalignedPage(Self.tableArea + 0x800)) {
            _ = try NPTBuilder(memory: FakePhysicalMemory(), supports1GiB: true, pages: &pages)
        }
        #expect(NPTBuildError.misalignedPage(0x8000_0000_0800).message == "NPT: page source returned unaligned frame 0x800000000800")
    }

    @Test func walkerReportsReservedBits() throws {
        let memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: Self.tableArea)
        var builder = try NPTBuilder(memory: memory, supports1GiB: false, pages: &pages)
        try builder.map(PhysicalRange(start: 0, end: 0x40_0000), permissions: .all, memoryType: .writeBack, pages: &pages)
        let pd = Self.tableArea + 0x2000  // PML4, PDPT, then this PD
        let walker = NPTWalker(memory: memory, nestedCR3: builder.nestedCR3)
        #expect(walker.translate(0).mapping?.pageSize == .size2MiB)

        memory.store(UInt64(0x4000 | 0xE7), at: pd)  // address bit 14 in a 2 MiB leaf
        #expect(walker.translate(0) == .misconfigured(level: .pageDirectory, entry: NPTEntry(rawValue: 0x40E7)))
        memory.store(UInt64(0x1000 | 0xE7), at: pd)  // bit 12 is PAT there: fine
        #expect(walker.translate(0x1234).mapping?.hostPhysicalAddress == 0x1234)
        #expect(walker.translate(0x1234).mapping?.patIndex == 4)
        memory.store(UInt64(pd | 0xA7), at: Self.tableArea + 0x1000)  // PDPE with PS: a 1 GiB leaf at pd's address
        #expect(walker.translate(0).misconfigured)
        memory.store(NPTEntry.table(at: Self.tableArea + 0x1000).rawValue | 0x80, at: Self.tableArea)  // PS in the PML4E
        #expect(walker.translate(0x20_0000) == .misconfigured(level: .pml4, entry: NPTEntry(rawValue: Self.tableArea + 0x10A7)))
        var leaves = 0
        walker.forEachLeaf { _ in leaves += 1 }
        #expect(leaves == 0, "nothing below a malformed PML4E is followed")
    }
}

extension PageTableTranslation {
    var misconfigured: Bool {
        if case .misconfigured = self { return true }
        return false
    }
}
