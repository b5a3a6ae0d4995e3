/// A level of the 4-level EPT hierarchy, by the name of its table.
///
/// Each level translates 9 bits of the guest-physical address: PML4 bits
/// 47:39, page-directory-pointer table 38:30, page directory 29:21, page
/// table 20:12; bits 11:0 are the offset in a 4 KiB page.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84).
public enum EPTLevel: Int, Sendable, CaseIterable {
    case pageTable = 1
    case pageDirectory = 2
    case pageDirectoryPointerTable = 3
    case pml4 = 4

    /// Entries per table: 4 KiB of 8-byte entries.
    public static let entriesPerTable = 512
    /// Guest-physical address width of a 4-level walk: 48 bits.
    public static let addressWidth = 48

    /// The lowest address bit this level's index covers.
    public var indexShift: Int { Page.shift + 9 * (rawValue - 1) }

    /// The bytes one entry of this level spans.
    public var entrySpan: UInt64 { UInt64(1) << UInt64(indexShift) }

    /// The index into this level's table for `address`.
    public func index(of address: UInt64) -> Int {
        Int((address >> UInt64(indexShift)) & 0x1FF)
    }

    /// The level below, or nil for the page table.
    public var next: EPTLevel? { EPTLevel(rawValue: rawValue - 1) }

    /// The page an entry at this level maps when it is a leaf, or nil for
    /// the PML4 (a PML4 entry always references a table).
    public var leafSize: EPTPageSize? {
        switch self {
        case .pageTable: .size4KiB
        case .pageDirectory: .size2MiB
        case .pageDirectoryPointerTable: .size1GiB
        case .pml4: nil
        }
    }
}

/// The size of a page an EPT leaf maps.
///
/// 1 GiB leaves need IA32_VMX_EPT_VPID_CAP bit 17, 2 MiB leaves bit 16.
/// Intel SDM Vol. 3D, "VPID and EPT Capabilities" (A.10 in rev. 84).
public enum EPTPageSize: UInt64, Sendable, CaseIterable {
    case size4KiB = 0x1000
    case size2MiB = 0x20_0000
    case size1GiB = 0x4000_0000

    public var bytes: UInt64 { rawValue }

    /// The level whose entries map pages of this size.
    public var level: EPTLevel {
        switch self {
        case .size4KiB: .pageTable
        case .size2MiB: .pageDirectory
        case .size1GiB: .pageDirectoryPointerTable
        }
    }
}
