import Primitives

/// Failures building EPT tables.
public enum EPTBuildError: PageTableBuildError, Equatable, Sendable {
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
        case .misalignedPage(let a): "EPT: page source returned unaligned frame \(hex: a)"
        case .unalignedRange(let r): "EPT: range \(hex: r.start)-\(hex: r.end) is not page-aligned"
        case .beyondAddressWidth(let r): "EPT: range ending \(hex: r.end) is beyond 48 bits"
        case .invalidPermissions(let p): "EPT: invalid permissions \(hex: p.rawValue)"
        case .invalidMemoryType(let t): "EPT: reserved memory type \(t.rawValue)"
        case .overlapping(let a): "EPT: \(hex: a) is already mapped"
        }
    }
}

/// Leaves written so far, by page size (EPT or NPT alike).
public typealias EPTLeafCounts = PageTableLeafCounts

/// Writes 4-level EPT tables (see `PageTableBuilder`): leaves with the
/// region's R/W/X and its EPT memory type, the guest PAT left in play.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84).
public typealias EPTBuilder<Memory: PhysicalMemory> = PageTableBuilder<EPTEntry, Memory>

extension PageTableBuilder where Entry == EPTEntry {
    /// The EPTP for these tables: 4 levels, walked with `memoryType` (WB
    /// needs IA32_VMX_EPT_VPID_CAP bit 14, UC bit 8).
    public func pointer(memoryType: EPTMemoryType = .writeBack, accessedDirtyEnabled: Bool = false) -> EPTPointer {
        EPTPointer(pml4Address: pml4Address, memoryType: memoryType, accessedDirtyEnabled: accessedDirtyEnabled)
    }
}
