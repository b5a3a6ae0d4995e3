import Primitives

/// Failures building EPT tables.
public enum EPTBuildError: Error, Equatable, Sendable {
    /// The page source ran dry.
    case outOfPages
    /// The page source returned a frame that is not 4 KiB aligned.
    case misalignedPage(UInt64)
    /// A range whose start or end is not 4 KiB aligned.
    case unalignedRange(PhysicalRange)
    /// A range reaching beyond the 48-bit guest-physical space.
    case beyondAddressWidth(PhysicalRange)
    /// Permissions that are empty (that is "unmapped": leave the range out)
    /// or write without read (an EPT misconfiguration).
    case invalidPermissions(EPTPermissions)
    /// A reserved EPT memory type.
    case invalidMemoryType(EPTMemoryType)
    /// `address` is already mapped.
    case overlapping(at: UInt64)

    /// One line for `pxhv: error:`.
    public var message: Message {
        switch self {
        case .outOfPages: "EPT: out of pages for tables"
        case .misalignedPage(let a): Message(template: "EPT: page source returned unaligned frame {hex}", a)
        case .unalignedRange(let r): Message(template: "EPT: range {hex}-{hex} is not page-aligned", r.start, r.end)
        case .beyondAddressWidth(let r): Message(template: "EPT: range ending {hex} is beyond 48 bits", r.end)
        case .invalidPermissions(let p): Message(template: "EPT: invalid permissions {hex}", UInt64(p.rawValue))
        case .invalidMemoryType(let t): Message(template: "EPT: reserved memory type {dec}", UInt64(t.rawValue))
        case .overlapping(let a): Message(template: "EPT: {hex} is already mapped", a)
        }
    }
}

/// Leaves written so far, by page size.
public struct EPTLeafCounts: Equatable, Sendable {
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

/// Writes 4-level EPT tables that identity-map (GPA == HPA) the ranges it
/// is given, with the largest leaves alignment allows, and nothing else.
///
/// Largest leaves because every 4 KiB leaf where a 2 MiB one fits costs TLB
/// entries and 4 KiB of table; 4 KiB leaves appear only where a range starts
/// or ends off a 2 MiB boundary (or 1 GiB, when `largestPageSize` allows).
/// Whatever is not mapped stays not present, so the hypervisor's region is
/// protected by leaving it out of the list.
///
/// Tables come from a `PageSource` and are zeroed through `memory`; the
/// builder never allocates on the heap.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84).
public struct EPTBuilder<Memory: PhysicalMemory> {
    /// The memory the tables are written to (a fake in tests).
    public var memory: Memory
    /// The physical address of the EPT PML4 table.
    public let pml4Address: UInt64
    /// The largest leaf used: 2 MiB, or 1 GiB when the CPU reports it
    /// (IA32_VMX_EPT_VPID_CAP bit 17).
    public let largestPageSize: EPTPageSize
    /// Table pages taken from the page source, the PML4 included.
    public private(set) var tablePages = 1
    public private(set) var leafCounts = EPTLeafCounts()

    /// Starts empty tables: takes and zeroes the PML4 frame.
    public init<Source: PageSource>(
        memory: Memory, largestPageSize: EPTPageSize = .size2MiB, pages: inout Source
    ) throws(EPTBuildError) {
        self.memory = memory
        self.largestPageSize = largestPageSize
        pml4Address = try Self.takeZeroedPage(from: &pages, into: &self.memory)
    }

    /// Starts empty tables using 1 GiB leaves if `supports1GiB`, else 2 MiB.
    public init<Source: PageSource>(memory: Memory, supports1GiB: Bool, pages: inout Source) throws(EPTBuildError) {
        try self.init(memory: memory, largestPageSize: supports1GiB ? .size1GiB : .size2MiB, pages: &pages)
    }

    /// The EPTP for these tables: 4 levels, walked with `memoryType` (WB
    /// needs IA32_VMX_EPT_VPID_CAP bit 14, UC bit 8).
    public func pointer(memoryType: EPTMemoryType = .writeBack, accessedDirtyEnabled: Bool = false) -> EPTPointer {
        EPTPointer(pml4Address: pml4Address, memoryType: memoryType, accessedDirtyEnabled: accessedDirtyEnabled)
    }

    /// Maps every region of `layout`.
    public mutating func map<Source: PageSource>(_ layout: EPTIdentityLayout, pages: inout Source) throws(EPTBuildError) {
        try layout.forEachRegion { (region) throws(EPTBuildError) in try map(region, pages: &pages) }
    }

    /// Maps every region of `regions` (sorted or not; they must not overlap).
    public mutating func map<Regions: Sequence, Source: PageSource>(_ regions: Regions, pages: inout Source)
        throws(EPTBuildError) where Regions.Element == EPTRegion
    {
        for region in regions { try map(region, pages: &pages) }
    }

    /// Identity-maps `region`.
    public mutating func map<Source: PageSource>(_ region: EPTRegion, pages: inout Source) throws(EPTBuildError) {
        try map(region.range, permissions: region.permissions, memoryType: region.memoryType, pages: &pages)
    }

    /// Identity-maps `range` (4 KiB aligned, not mapped yet).
    public mutating func map<Source: PageSource>(
        _ range: PhysicalRange, permissions: EPTPermissions, memoryType: EPTMemoryType, pages: inout Source
    ) throws(EPTBuildError) {
        guard range.start.isAligned(to: Page.size), range.end.isAligned(to: Page.size) else {
            throw .unalignedRange(range)
        }
        guard range.end <= UInt64(1) << UInt64(EPTLevel.addressWidth) else { throw .beyondAddressWidth(range) }
        guard !permissions.isEmpty, permissions.isValid else { throw .invalidPermissions(permissions) }
        guard memoryType.isValid else { throw .invalidMemoryType(memoryType) }

        var address = range.start
        while address < range.end {
            var table = pml4Address
            var level = EPTLevel.pml4
            while true {
                let slot = table + UInt64(level.index(of: address)) * 8
                let existing = EPTEntry(rawValue: memory.load(UInt64.self, at: slot))
                if let size = leafSize(at: level), address.isAligned(to: size.bytes), range.end - address >= size.bytes {
                    guard !existing.isPresent else { throw .overlapping(at: address) }
                    let leaf = EPTEntry.leaf(mapping: address, size: size, permissions: permissions, memoryType: memoryType)
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
                table = entry.physicalAddress
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
    ) throws(EPTBuildError) -> UInt64 {
        guard let page = pages.allocatePage() else { throw .outOfPages }
        guard page.isAligned(to: Page.size) else { throw .misalignedPage(page) }
        memory.zeroPage(at: page)
        return page
    }
}
