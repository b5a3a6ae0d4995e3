import Primitives

/// Failures building nested page tables.
public typealias NPTBuildError = PageTableBuildError<NPTEntry>

/// Leaves written so far, by page size.
public typealias NPTLeafCounts = PageTableLeafCounts

/// Writes 4-level AMD nested page tables (see `PageTableBuilder`) from the
/// same `EPTIdentityLayout` as EPT, so both vendors hide the same ranges
/// with the same leaf sizes: RAM write-back (host PAT index 0), the rest
/// uncacheable (index 3, PCD | PWT), readable, writable, executable, user at
/// every level. 1 GiB leaves need CPUID 80000001H:EDX.Page1GB (bit 26):
/// `init(memory:supports1GiB:pages:)`.
///
/// The root for the VMCB is `nestedCR3`.
///
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42).
public typealias NPTBuilder<Memory: PhysicalMemory> = PageTableBuilder<NPTEntry, Memory>

extension PageTableBuilder where Entry == NPTEntry {
    /// The value for the VMCB's N_CR3: the PML4's address, the tables read
    /// write-back (PWT = PCD = 0, host PAT index 0).
    public var nestedCR3: NestedCR3 { NestedCR3(pml4Address: pml4Address) }
}

/// Reads nested page tables the way the processor's nested walk does (see
/// `PageTableWalker`): for the isolation proof and to explain a nested page
/// fault (`PageTableTranslation.misconfigured` is a reserved bit: a nested
/// page fault with RSV set). An entry with P set counts as mapped even if
/// its U/S is clear (which faults every guest access): the isolation check
/// then errs on the side of reporting it. Mappings tell their host-PAT
/// index (`patIndex`) beside `memoryType`, the reset PAT's type there.
///
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42).
public typealias NPTWalker<Memory: PhysicalMemory> = PageTableWalker<NPTEntry, Memory>

extension PageTableWalker where Entry == NPTEntry {
    /// The walker for the tables `nestedCR3` roots.
    public init(memory: Memory, nestedCR3: NestedCR3) {
        self.init(memory: memory, pml4Address: nestedCR3.pml4Address)
    }
}

/// The root of the nested page tables, in CR3 format: the VMCB control
/// area's N_CR3 (where the field lives is SVMCore's VMCB layout).
///
/// PWT (bit 3) and PCD (bit 4), where an entry has them too, index the host
/// PAT for the processor's reads of the PML4 (the lower levels' reads are
/// typed by the entry that references them: `NPTEntry.tableReference`
/// leaves both clear). Clear, index 0: write-back under the reset PAT. UC
/// would send every nested walk to memory.
///
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42) and "CR3" in
/// "Long-Mode Page Translation" (5.3 in rev. 3.42).
public struct NestedCR3: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The tables at `pml4Address` (4 KiB aligned), the PML4 read with host
    /// PAT entry `patIndex` (0 to 3: PCD * 2 + PWT).
    public init(pml4Address: UInt64, patIndex: Int = 0) {
        precondition(pml4Address.isAligned(to: Page.size) && pml4Address >> 52 == 0, "PML4 not a 4 KiB frame")
        precondition((0...3).contains(patIndex), "CR3 holds PCD and PWT only")
        var entry = NPTEntry(rawValue: pml4Address)
        entry.isCacheDisabled = patIndex & 2 != 0
        entry.isWriteThrough = patIndex & 1 != 0
        rawValue = entry.rawValue
    }

    /// Bits 51:12.
    public var pml4Address: UInt64 { NPTEntry(rawValue: rawValue).physicalAddress }

    /// PCD * 2 + PWT.
    public var patIndex: Int {
        let bits = NPTEntry(rawValue: rawValue)
        return (bits.isCacheDisabled ? 2 : 0) | (bits.isWriteThrough ? 1 : 0)
    }
}
