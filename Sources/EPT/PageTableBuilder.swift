import Primitives

/// Leaves written so far, by page size.
public struct PageTableLeafCounts: Equatable, Sendable {
    public var size4KiB = 0
    public var size2MiB = 0
    public var size1GiB = 0

    public init(size4KiB: Int = 0, size2MiB: Int = 0, size1GiB: Int = 0) {
        self.size4KiB = size4KiB
        self.size2MiB = size2MiB
        self.size1GiB = size1GiB
    }

    public subscript(size: EPTPageSize) -> Int {
        get {
            switch size {
            case .size4KiB: size4KiB
            case .size2MiB: size2MiB
            case .size1GiB: size1GiB
            }
        }
        set {
            switch size {
            case .size4KiB: size4KiB = newValue
            case .size2MiB: size2MiB = newValue
            case .size1GiB: size1GiB = newValue
            }
        }
    }
}

/// Writes 4-level second-level tables (EPT or nested paging, by `Entry`)
/// that identity-map (GPA == HPA) the ranges it is given, with the largest
/// leaves alignment allows, and nothing else.
///
/// Largest leaves because every 4 KiB leaf where a 2 MiB one fits costs TLB
/// entries and 4 KiB of table; 4 KiB leaves appear only where a range starts
/// or ends off a 2 MiB boundary (or 1 GiB, when `largestPageSize` allows).
/// Whatever is not mapped stays not present, so the hypervisor's region is
/// protected by leaving it out of the list.
///
/// Tables come from a `PageSource` and are zeroed through `memory`; the
/// builder never allocates on the heap. `EPTBuilder` and `NPTBuilder` name
/// the two formats; each adds its root pointer (`pointer()`, `nestedCR3`).
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84);
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42).
public struct PageTableBuilder<Entry: PageTableEntry, Memory: PhysicalMemory> {
    /// The memory the tables are written to (a fake in tests).
    public var memory: Memory
    /// The physical address of the PML4 table.
    public let pml4Address: UInt64
    /// The largest leaf used: 2 MiB, or 1 GiB when the CPU has it (EPT:
    /// IA32_VMX_EPT_VPID_CAP bit 17; nested paging: CPUID
    /// 80000001H:EDX.Page1GB, bit 26).
    public let largestPageSize: EPTPageSize
    /// Table pages taken from the page source, the PML4 included.
    public private(set) var tablePages = 1
    public private(set) var leafCounts = PageTableLeafCounts()

    /// Starts empty tables: takes and zeroes the PML4 frame.
    public init<Source: PageSource>(
        memory: Memory, largestPageSize: EPTPageSize = .size2MiB, pages: inout Source
    ) throws(PageTableBuildError<Entry>) {
        self.memory = memory
        self.largestPageSize = largestPageSize
        pml4Address = try Self.takeZeroedPage(from: &pages, into: &self.memory)
    }

    /// Starts empty tables using 1 GiB leaves if `supports1GiB`, else 2 MiB.
    public init<Source: PageSource>(memory: Memory, supports1GiB: Bool, pages: inout Source) throws(PageTableBuildError<Entry>) {
        try self.init(memory: memory, largestPageSize: supports1GiB ? .size1GiB : .size2MiB, pages: &pages)
    }

    /// Maps every region of `layout`.
    public mutating func map<Source: PageSource>(_ layout: EPTIdentityLayout, pages: inout Source) throws(PageTableBuildError<Entry>) {
        try layout.forEachRegion { (region) throws(PageTableBuildError<Entry>) in try map(region, pages: &pages) }
    }

    /// Maps every region of `regions` (sorted or not; they must not overlap).
    public mutating func map<Regions: Sequence, Source: PageSource>(_ regions: Regions, pages: inout Source)
        throws(PageTableBuildError<Entry>) where Regions.Element == EPTRegion
    {
        for region in regions { try map(region, pages: &pages) }
    }

    /// Identity-maps `region`.
    public mutating func map<Source: PageSource>(_ region: EPTRegion, pages: inout Source) throws(PageTableBuildError<Entry>) {
        try map(region.range, permissions: region.permissions, memoryType: region.memoryType, pages: &pages)
    }

    /// Identity-maps `range` (4 KiB aligned, not mapped yet).
    public mutating func map<Source: PageSource>(
        _ range: PhysicalRange, permissions: EPTPermissions, memoryType: EPTMemoryType, pages: inout Source
    ) throws(PageTableBuildError<Entry>) {
        guard range.start.isAligned(to: Page.size), range.end.isAligned(to: Page.size) else {
            throw .unalignedRange(range)
        }
        guard range.end <= UInt64(1) << UInt64(EPTLevel.addressWidth) else { throw .beyondAddressWidth(range) }
        try Entry.validate(permissions: permissions, memoryType: memoryType)

        var address = range.start
        while address < range.end {
            var table = pml4Address
            var level = EPTLevel.pml4
            while true {
                let slot = table + UInt64(level.index(of: address)) * 8
                let existing = Entry(rawValue: memory.load(UInt64.self, at: slot))
                if let size = leafSize(at: level), address.isAligned(to: size.bytes), range.end - address >= size.bytes {
                    guard !existing.isPresent else { throw .overlapping(at: address) }
                    let leaf = Entry.identityLeaf(address, size: size, permissions: permissions, memoryType: memoryType)
                    memory.store(leaf.rawValue, at: slot)
                    leafCounts[size] += 1
                    address += size.bytes
                    break
                }
                var entry = existing
                if !entry.isPresent {
                    entry = .table(at: try Self.takeZeroedPage(from: &pages, into: &memory))
                    memory.store(entry.rawValue, at: slot)
                    tablePages += 1
                } else if entry.isLeaf(at: level) {
                    throw .overlapping(at: address)
                }
                table = entry.address(at: level)
                guard let next = level.next else { fatalError("a page-table entry is always a leaf") }
                level = next
            }
        }
    }

    /// The leaf an entry at `level` may be, within `largestPageSize`.
    private func leafSize(at level: EPTLevel) -> EPTPageSize? {
        guard let size = level.leafSize, size.bytes <= largestPageSize.bytes else { return nil }
        return size
    }

    private static func takeZeroedPage<Source: PageSource>(
        from pages: inout Source, into memory: inout Memory
    ) throws(PageTableBuildError<Entry>) -> UInt64 {
        guard let page = pages.allocatePage() else { throw .outOfPages }
        guard page.isAligned(to: Page.size) else { throw .misalignedPage(page) }
        memory.zeroPage(at: page)
        return page
    }
}
