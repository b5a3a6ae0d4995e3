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
    /// The format's build errors (each carries its format's name in its
    /// one-line message).
    associatedtype BuildError: PageTableBuildError

    /// Every 64-bit value is an entry (a malformed one, perhaps).
    init(rawValue: UInt64)

    /// An entry referencing the next table at `address` (4 KiB aligned),
    /// granting everything, so the leaf alone decides what the guest may do.
    static func table(at address: UInt64) -> Self

    /// Throws unless a leaf can give `permissions` and `memoryType` in this
    /// format (called once per range, before any leaf is written).
    static func validate(permissions: EPTPermissions, memoryType: EPTMemoryType) throws(BuildError)

    /// A leaf mapping the `size` page at `address` (aligned to `size`) with
    /// attributes `validate` accepted.
    static func identityLeaf(
        _ address: UInt64, size: EPTPageSize, permissions: EPTPermissions, memoryType: EPTMemoryType
    ) -> Self

    /// False when the walk stops here (a fault: EPT violation, nested page
    /// fault).
    var isPresent: Bool { get }

    /// True if this entry, found at `level`, maps a page rather than
    /// referencing a table.
    func isLeaf(at level: EPTLevel) -> Bool

    /// The next table (non-leaf) or the page (leaf) this entry, found at
    /// `level`, references.
    func address(at level: EPTLevel) -> UInt64

    /// True if this present entry, found at `level`, is malformed in a way
    /// that does not depend on CPU capabilities: the access would be an EPT
    /// misconfiguration, or a nested page fault with the reserved-bit flag.
    func isMalformed(at level: EPTLevel) -> Bool
}

/// The failures every format's builder reports; each format's error enum
/// has these cases (enum cases witness the requirements).
public protocol PageTableBuildError: Error {
    /// The page source ran dry.
    static var outOfPages: Self { get }
    /// The page source returned a frame that is not 4 KiB aligned.
    static func misalignedPage(_ address: UInt64) -> Self
    /// A range whose start or end is not 4 KiB aligned.
    static func unalignedRange(_ range: PhysicalRange) -> Self
    /// A range reaching beyond the 48-bit guest-physical space.
    static func beyondAddressWidth(_ range: PhysicalRange) -> Self
    /// `address` is already mapped.
    static func overlapping(at address: UInt64) -> Self
}
