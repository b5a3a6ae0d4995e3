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

/// The root of the nested page tables, in CR3 format: the VMCB control
/// area's N_CR3 (where the field lives is SVMCore's VMCB layout).
///
/// PWT and PCD index the host PAT for the processor's reads of the PML4
/// (the lower levels' reads are typed by the PWT/PCD of the entry that
/// references them, `NPTEntry.table(at:)` leaves both clear): clear, index
/// 0, write-back under the reset PAT. UC would send every nested walk to
/// memory.
///
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42) and "CR3" in
/// "Long-Mode Page Translation" (5.3 in rev. 3.42).
public struct NestedCR3: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public enum Field {
        /// PWT: bit 0 of the PAT index for reading the PML4.
        public static let writeThrough = 3
        /// PCD: bit 1 of the PAT index for reading the PML4.
        public static let cacheDisable = 4
        /// Bits 51:12 of the PML4 table's physical address.
        public static let address = 12...51
    }

    /// The tables at `pml4Address`, read write-back.
    public init(pml4Address: UInt64) {
        rawValue = 0
        self.pml4Address = pml4Address
    }

    public var pml4Address: UInt64 {
        get { self[bits: Field.address] << UInt64(Page.shift) }
        set {
            precondition(newValue.isAligned(to: Page.size), "PML4 not 4 KiB aligned")
            self[bits: Field.address] = newValue >> UInt64(Page.shift)
        }
    }

    public var isWriteThrough: Bool {
        get { self[bit: Field.writeThrough] }
        set { self[bit: Field.writeThrough] = newValue }
    }

    public var isCacheDisabled: Bool {
        get { self[bit: Field.cacheDisable] }
        set { self[bit: Field.cacheDisable] = newValue }
    }
}
