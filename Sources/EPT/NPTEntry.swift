import Primitives

/// One 8-byte entry of an AMD nested page table: the ordinary long-mode
/// page-table format, walked from nCR3 with the host's paging mode (4
/// levels here), translating guest-physical to system-physical addresses.
///
/// How the nested tables use the long-mode bits:
/// - U/S must be 1 at every level: "all nested page table accesses are
///   treated as user accesses" (a table walk for a guest page table is a
///   user write, for the guest page itself a user access), so an entry with
///   U/S = 0 would fault every access through it.
/// - R/W must be 1 wherever a guest page table may live, since the guest's
///   table walks are nested writes (they set A/D); RAM is mapped writable.
/// - NX (bit 63) clear: executable. NX set is valid only with the host's
///   EFER.NXE = 1 (else bit 63 is reserved); the identity layout never sets
///   it.
/// - PAT, PCD, PWT index the host PAT (`PageAttributeTable`) for the leaf's
///   memory type; non-leaf entries' PCD/PWT type the next table's reads.
/// - There are no EPT-style memory-type fields; the host's CR0.WP is
///   ignored under nested paging.
///
/// The hardware sets A in every entry it walks and D in leaves it writes
/// through; the builder sets both from the start, so the processor never
/// writes the tables and they stay byte for byte as built (as the host's own
/// tables do, `HostPageTables`).
///
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42), "Nested versus
/// Guest Page Faults, Fault Ordering" (15.25.6 in rev. 3.42), and for the
/// entry format "Long-Mode Page Translation" (5.3 in rev. 3.42) and
/// "Page-Translation-Table Entry Fields" (5.4 in rev. 3.42).
public struct NPTEntry: PageTableEntry {
    public static let formatName: StaticString = "NPT"
    public static let invalidMemoryTypeText: StaticString = "no host PAT entry holds memory type"

    /// The host PAT the leaves index: the reset value, which pxHV never
    /// changes (index 0 WB for RAM, 3 UC for the rest, 1 WT).
    public static var hostPAT: PageAttributeTable { .reset }

    /// A: set by the processor when it uses the entry (`isAccessed`).
    public static let accessedBit = 5
    /// D, leaves only: set by the processor on a write through the leaf
    /// (`isDirty`).
    public static let dirtyBit = 6

    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit positions, shared by all four entry formats where they exist.
    public enum Field {
        /// P: the entry is valid; clear, the walk stops (nested page fault).
        public static let present = 0
        /// R/W: writes allowed through this entry.
        public static let writable = 1
        /// U/S: user accesses allowed; every nested access is a user access.
        public static let user = 2
        /// PWT: bit 0 of the PAT index.
        public static let writeThrough = 3
        /// PCD: bit 1 of the PAT index.
        public static let cacheDisable = 4
        /// PS, PDPE and PDE: 1 = this entry maps a page (1 GiB / 2 MiB);
        /// A and D are `accessedBit` and `dirtyBit`.
        public static let pageSize = 7
        /// PAT, 4 KiB leaves (PTE): bit 2 of the PAT index.
        public static let patOf4KiBPage = 7
        /// G, leaves only: global (no meaning for nested translations).
        public static let global = 8
        /// PAT, 2 MiB and 1 GiB leaves: bit 2 of the PAT index.
        public static let patOfLargePage = 12
        /// NX: no instruction fetch through this entry (with EFER.NXE).
        public static let noExecute = 63
        /// Reserved (must be 0): PS in a PML4E, and the address bits below
        /// the page size in 2 MiB and 1 GiB leaves (above the PAT bit).
        public static let reservedInPML4E = 7
        public static let reservedIn2MiBPage = 13...20
        public static let reservedIn1GiBPage = 13...29
    }

    /// A table reference without its address: present, writable, user,
    /// accessed, executable, the next table read write-back (PAT index 0).
    public static var tableReference: NPTEntry {
        var entry = NPTEntry(rawValue: 0)
        entry.grant(.all)
        return entry
    }

    /// A leaf mapping the `size` page at `address` (aligned to `size`) with
    /// `permissions` (which must include read) and the memory type at
    /// `patIndex` of the host PAT; accessed and dirty.
    public static func leaf(
        mapping address: UInt64, size: EPTPageSize, permissions: EPTPermissions, patIndex: Int
    ) -> NPTEntry {
        precondition(address.isAligned(to: size.bytes), "NPT leaf address not aligned to its page size")
        precondition(permissions.contains(.read), "a present NPT entry is readable")
        var entry = NPTEntry(rawValue: 0)
        entry.grant(permissions)
        entry.isDirty = true
        entry.isLargePage = size != .size4KiB
        entry.physicalAddress = address
        entry.setPATIndex(patIndex, size: size)
        return entry
    }

    /// The large leaf's PAT bit moves from bit 12 to bit 7 in a 4 KiB leaf
    /// (where bit 7 is no longer PS); the rest stays.
    public func splitting(from level: EPTLevel, into size: EPTPageSize, at address: UInt64) -> NPTEntry {
        var leaf = self
        let index = patIndex(size: level.leafSize ?? .size4KiB)
        leaf[bit: Field.patOfLargePage] = false
        leaf.isLargePage = size != .size4KiB
        leaf.physicalAddress = address
        leaf.setPATIndex(index, size: size)
        return leaf
    }

    /// R/W and NX as `permissions` say (read is what P gives).
    public mutating func setLeafPermissions(_ permissions: EPTPermissions) {
        isWritable = permissions.contains(.write)
        isExecutable = permissions.contains(.execute)
    }

    /// P, U/S and A, plus R/W for write, NX for no execute.
    private mutating func grant(_ permissions: EPTPermissions) {
        isPresent = true
        isUser = true
        isAccessed = true
        isWritable = permissions.contains(.write)
        isExecutable = permissions.contains(.execute)
    }

    /// What the entry allows a present guest access: read always, write
    /// with R/W, execute without NX.
    public var permissions: EPTPermissions {
        guard isPresent else { return [] }
        var permissions: EPTPermissions = .read
        if isWritable { permissions.insert(.write) }
        if isExecutable { permissions.insert(.execute) }
        return permissions
    }

    public var isPresent: Bool {
        get { self[bit: Field.present] }
        set { self[bit: Field.present] = newValue }
    }

    public var isWritable: Bool {
        get { self[bit: Field.writable] }
        set { self[bit: Field.writable] = newValue }
    }

    public var isUser: Bool {
        get { self[bit: Field.user] }
        set { self[bit: Field.user] = newValue }
    }

    public var isWriteThrough: Bool {
        get { self[bit: Field.writeThrough] }
        set { self[bit: Field.writeThrough] = newValue }
    }

    public var isCacheDisabled: Bool {
        get { self[bit: Field.cacheDisable] }
        set { self[bit: Field.cacheDisable] = newValue }
    }

    // PS, A, D: `isLargePage`, `isAccessed`, `isDirty` (PageTableEntry).
    // In a PTE bit 7 is the PAT bit: use `patIndex(size:)`.

    public var isGlobal: Bool {
        get { self[bit: Field.global] }
        set { self[bit: Field.global] = newValue }
    }

    /// NX clear.
    public var isExecutable: Bool {
        get { !self[bit: Field.noExecute] }
        set { self[bit: Field.noExecute] = !newValue }
    }

    /// The host-PAT index of a leaf mapping a `size` page: PAT * 4 + PCD * 2
    /// + PWT, the PAT bit at 7 in a PTE and at 12 in a large leaf.
    ///
    /// AMD APM Vol. 2, "PAT-Register PA-Field Indexing" (7.8 in rev. 3.42).
    public func patIndex(size: EPTPageSize) -> Int {
        let pat = self[bit: size == .size4KiB ? Field.patOf4KiBPage : Field.patOfLargePage]
        return (pat ? 4 : 0) | (isCacheDisabled ? 2 : 0) | (isWriteThrough ? 1 : 0)
    }

    public mutating func setPATIndex(_ index: Int, size: EPTPageSize) {
        precondition((0..<PageAttributeTable.count).contains(index), "PAT index out of range")
        self[bit: size == .size4KiB ? Field.patOf4KiBPage : Field.patOfLargePage] = index & 4 != 0
        isCacheDisabled = index & 2 != 0
        isWriteThrough = index & 1 != 0
    }

    // MARK: PageTableEntry

    /// The table or page: bits 51:12 (`physicalAddress`), less a large
    /// leaf's PAT bit (12) and reserved bits below its page size.
    public func address(at level: EPTLevel) -> UInt64 {
        guard isLeaf(at: level), let size = level.leafSize else { return physicalAddress }
        return physicalAddress & ~(size.bytes - 1)
    }

    /// The host PAT's type at the leaf's PAT index.
    public func memoryType(at level: EPTLevel) -> EPTMemoryType {
        guard let size = level.leafSize else { return Self.hostPAT[0] }
        return Self.hostPAT[patIndex(size: size)]
    }

    /// Read is what makes an entry present; the memory type must be in the
    /// host PAT.
    public static func validate(permissions: EPTPermissions, memoryType: EPTMemoryType)
        throws(PageTableBuildError<NPTEntry>)
    {
        guard permissions.contains(.read) else { throw .invalidPermissions(permissions) }
        guard hostPAT.index(of: memoryType) != nil else { throw .invalidMemoryType(memoryType) }
    }

    public static func identityLeaf(
        _ address: UInt64, size: EPTPageSize, permissions: EPTPermissions, memoryType: EPTMemoryType
    ) -> NPTEntry {
        guard let index = hostPAT.index(of: memoryType) else { preconditionFailure("memory type not in the host PAT") }
        return leaf(mapping: address, size: size, permissions: permissions, patIndex: index)
    }

    /// The reserved-bit checks that do not depend on the CPU or the host's
    /// mode: PS in a PML4E, and address bits below the page size (above the
    /// PAT bit) in a large leaf. (Bits above MAXPHYADDR and NX without
    /// EFER.NXE are reserved too; the walker knows neither.) A nested walk
    /// that meets one takes a nested page fault with the reserved-bit flag.
    ///
    /// AMD APM Vol. 2, "Page-Translation-Table Entry Fields" (5.4 in rev. 3.42).
    public func isMalformed(at level: EPTLevel) -> Bool {
        switch level {
        case .pml4: self[bit: Field.reservedInPML4E]
        case .pageDirectoryPointerTable: isLargePage && self[bits: Field.reservedIn1GiBPage] != 0
        case .pageDirectory: isLargePage && self[bits: Field.reservedIn2MiBPage] != 0
        case .pageTable: false
        }
    }
}

extension PageTableMapping where Entry == NPTEntry {
    /// The leaf's host-PAT index (PAT, PCD, PWT): `memoryType` is the
    /// reset PAT's type there, before the guest's PAT type and the host's
    /// MTRRs combine with it.
    public var patIndex: Int { entry.patIndex(size: pageSize) }
}
