import Primitives

/// Failures building EPT tables.
public typealias EPTBuildError = PageTableBuildError<EPTEntry>

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
