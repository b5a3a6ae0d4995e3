import Primitives

/// The extended-page-table pointer (VMCS field 0x201A): where the EPT PML4
/// table is and how the processor walks it.
///
/// Intel SDM Vol. 3C, "Extended-Page-Table Pointer (EPTP)" (25.6.11 in
/// rev. 84).
public struct EPTPointer: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public enum Field {
        /// Memory type for accessing the EPT paging structures: UC or WB
        /// (IA32_VMX_EPT_VPID_CAP bits 8 and 14 say which are allowed).
        public static let memoryType = 0...2
        /// The page-walk length minus 1.
        public static let walkLengthMinusOne = 3...5
        /// Enables the accessed and dirty flags (needs IA32_VMX_EPT_VPID_CAP
        /// bit 21).
        public static let accessedDirtyEnable = 6
        /// Bits 51:12 of the PML4 table's physical address.
        public static let address = 12...51
    }

    /// A pointer to the 4-level tables at `pml4Address`, read write-back
    /// (the tables are ordinary RAM; UC would make every walk go to memory).
    public init(pml4Address: UInt64, memoryType: EPTMemoryType = .writeBack, accessedDirtyEnabled: Bool = false) {
        rawValue = 0
        self.pml4Address = pml4Address
        self.memoryType = memoryType
        self.pageWalkLength = 4
        self.isAccessedDirtyEnabled = accessedDirtyEnabled
    }

    public var memoryType: EPTMemoryType {
        get { EPTMemoryType(rawValue: UInt8(self[bits: Field.memoryType])) }
        set { self[bits: Field.memoryType] = UInt64(newValue.rawValue) }
    }

    /// The number of levels walked (4; 5 only with 5-level EPT).
    public var pageWalkLength: Int {
        get { Int(self[bits: Field.walkLengthMinusOne]) + 1 }
        set {
            precondition((1...8).contains(newValue), "page-walk length out of range")
            self[bits: Field.walkLengthMinusOne] = UInt64(newValue - 1)
        }
    }

    public var isAccessedDirtyEnabled: Bool {
        get { self[bit: Field.accessedDirtyEnable] }
        set { self[bit: Field.accessedDirtyEnable] = newValue }
    }

    public var pml4Address: UInt64 {
        get { self[bits: Field.address] << UInt64(Page.shift) }
        set {
            precondition(newValue.isAligned(to: Page.size), "PML4 not 4 KiB aligned")
            self[bits: Field.address] = newValue >> UInt64(Page.shift)
        }
    }
}
