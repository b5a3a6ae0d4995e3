import Primitives

/// One entry format of a 4-level second-level page-table hierarchy: Intel's
/// EPT (`EPTEntry`) or AMD's nested paging, which uses the long-mode
/// page-table format (`NPTEntry`).
///
/// The two formats share their geometry (9 address bits per level, 4 KiB,
/// 2 MiB and 1 GiB leaves: `EPTLevel`, `EPTPageSize`) and differ only in
/// the bits of an entry. So the builder, the walker, the isolation check and
/// the leaf rewriting are written once (`PageTableBuilder`,
/// `PageTableWalker`, `IsolationCheck`, `PageTableLeaves`) over this
/// protocol, and each format says only what its bits mean: the way
/// Jailhouse drives several formats with one walker through a per-format
/// table of entry operations, and NOVA maps neutral permissions onto EPT
/// bits in one generic page-table entry.
public protocol PageTableEntry: BitFieldRepresentable, Hashable, Sendable where RawValue == UInt64 {
    /// The format's name in diagnostics: "EPT", "NPT".
    static var formatName: StaticString { get }
    /// What `PageTableBuildError.invalidMemoryType` says before the type's
    /// number.
    static var invalidMemoryTypeText: StaticString { get }

    /// Every 64-bit value is an entry (a malformed one, perhaps).
    init(rawValue: UInt64)

    /// A table reference without its address: granting everything, so the
    /// leaf alone decides what the guest may do and one region's
    /// attributes never leak into another's through a shared table.
    static var tableReference: Self { get }

    /// Throws unless a leaf can give `permissions` and `memoryType` in this
    /// format (called once per range, before any leaf is written).
    static func validate(permissions: EPTPermissions, memoryType: EPTMemoryType) throws(PageTableBuildError<Self>)

    /// A leaf mapping the `size` page at `address` (aligned to `size`) with
    /// attributes `validate` accepted.
    static func identityLeaf(
        _ address: UInt64, size: EPTPageSize, permissions: EPTPermissions, memoryType: EPTMemoryType
    ) -> Self

    /// False when the walk stops here (a fault: EPT violation, nested page
    /// fault).
    var isPresent: Bool { get }

    /// Where A (the processor used the entry) and D (it wrote through the
    /// leaf) sit: EPT 8 and 9, long mode 5 and 6.
    static var accessedBit: Int { get }
    static var dirtyBit: Int { get }

    /// What a present leaf allows the guest.
    var permissions: EPTPermissions { get }

    /// The memory type a leaf, found at `level`, gives its page (before the
    /// guest's PAT type combines with it).
    func memoryType(at level: EPTLevel) -> EPTMemoryType

    /// The next table (non-leaf) or the page (leaf) this entry, found at
    /// `level`, references.
    func address(at level: EPTLevel) -> UInt64

    /// True if this present entry, found at `level`, is malformed in a way
    /// that does not depend on CPU capabilities: the access would be an EPT
    /// misconfiguration, or a nested page fault with the reserved-bit flag.
    func isMalformed(at level: EPTLevel) -> Bool

    /// A leaf of `size` at `address` inside the page this large leaf, found
    /// at `level`, maps, with its attributes (permissions, memory type):
    /// one of the 512 leaves that replace it (`PageLeafIsolation`).
    func splitting(from level: EPTLevel, into size: EPTPageSize, at address: UInt64) -> Self

    /// A leaf's permissions set to `permissions` (which `validate` accepted).
    mutating func setLeafPermissions(_ permissions: EPTPermissions)
}

extension PageTableEntry {
    /// Bits 51:12 of either format: the next table's or the page's frame.
    static var addressField: ClosedRange<Int> { 12...51 }
    /// PS, bit 7 of a PDPTE or PDE in either format: the entry maps a
    /// 1 GiB / 2 MiB page. (A PTE is always a leaf; there the bit means
    /// something else, or nothing.)
    static var pageSizeBit: Int { 7 }

    /// An entry referencing the table at `address` (4 KiB aligned).
    public static func table(at address: UInt64) -> Self {
        var entry = tableReference
        entry.physicalAddress = address
        return entry
    }

    public var isLargePage: Bool {
        get { self[bit: Self.pageSizeBit] }
        set { self[bit: Self.pageSizeBit] = newValue }
    }

    public var isAccessed: Bool {
        get { self[bit: Self.accessedBit] }
        set { self[bit: Self.accessedBit] = newValue }
    }

    public var isDirty: Bool {
        get { self[bit: Self.dirtyBit] }
        set { self[bit: Self.dirtyBit] = newValue }
    }

    /// Bits 51:12 as they are (low 12 bits zero).
    public var physicalAddress: UInt64 {
        get { self[bits: Self.addressField] << UInt64(Page.shift) }
        set {
            precondition(newValue.isAligned(to: Page.size), "table or page address not 4 KiB aligned")
            self[bits: Self.addressField] = newValue >> UInt64(Page.shift)
        }
    }

    /// True if this entry, found at `level`, maps a page rather than
    /// referencing a table.
    public func isLeaf(at level: EPTLevel) -> Bool {
        switch level {
        case .pageTable: true
        case .pageDirectory, .pageDirectoryPointerTable: isLargePage
        case .pml4: false
        }
    }
}

/// Failures building second-level tables; `EPTBuildError` and
/// `NPTBuildError` name it for each format, whose name starts each message.
public enum PageTableBuildError<Entry: PageTableEntry>: Error, Equatable, Sendable {
    /// The page source ran dry.
    case outOfPages
    /// The page source returned a frame that is not 4 KiB aligned.
    case misalignedPage(UInt64)
    /// A range whose start or end is not 4 KiB aligned.
    case unalignedRange(PhysicalRange)
    /// A range reaching beyond the 48-bit guest-physical space.
    case beyondAddressWidth(PhysicalRange)
    /// Permissions a leaf of this format cannot have: empty (that is
    /// "unmapped": leave the range out), write without read (an EPT
    /// misconfiguration), or in NPT anything without read (a present
    /// long-mode entry is always readable).
    case invalidPermissions(EPTPermissions)
    /// A memory type a leaf of this format cannot have: a reserved EPT
    /// memory type; in NPT, a type no entry of the host PAT holds.
    case invalidMemoryType(EPTMemoryType)
    /// `address` is already mapped.
    case overlapping(at: UInt64)
    /// No leaf maps `address` (a change of an existing mapping).
    case notMapped(at: UInt64)

    /// One line for `pxhv: error:`.
    public var message: Message {
        let format = Entry.formatName
        return switch self {
        case .outOfPages: Message(template: "{name}: out of pages for tables", name: format)
        case .misalignedPage(let a): Message(template: "{name}: page source returned unaligned frame {hex}", a, name: format)
        case .unalignedRange(let r): Message(template: "{name}: range {hex}-{hex} is not page-aligned", r.start, r.end, name: format)
        case .beyondAddressWidth(let r): Message(template: "{name}: range ending {hex} is beyond 48 bits", r.end, name: format)
        case .invalidPermissions(let p): Message(template: "{name}: invalid permissions {hex}", UInt64(p.rawValue), name: format)
        case .invalidMemoryType(let t): "\(format): \(Entry.invalidMemoryTypeText) \(t.rawValue)"
        case .overlapping(let a): Message(template: "{name}: {hex} is already mapped", a, name: format)
        case .notMapped(let a): Message(template: "{name}: {hex} is not mapped", a, name: format)
        }
    }
}
