import Primitives

/// One 8-byte entry of an EPT paging structure: either a reference to the
/// next table or a leaf mapping a 4 KiB, 2 MiB or 1 GiB page.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84),
/// tables "Format of an EPT PML4 Entry (PML4E) that References an EPT
/// Page-Directory-Pointer Table" through "Format of an EPT Page-Table Entry
/// that Maps a 4-KByte Page".
public struct EPTEntry: PageTableEntry {
    public static let formatName: StaticString = "EPT"
    public static let invalidMemoryTypeText: StaticString = "reserved memory type"

    public static var accessedBit: Int { Field.accessed }
    public static var dirtyBit: Int { Field.dirty }

    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit positions, shared by all four entry formats where they exist.
    public enum Field {
        /// Read, write, execute (supervisor execute with mode-based control).
        public static let permissions = 0...2
        /// Leaves only: the EPT memory type.
        public static let memoryType = 3...5
        /// Leaves only: ignore the guest PAT memory type.
        public static let ignorePAT = 6
        /// PDPTE and PDE: 1 = this entry maps a page (1 GiB / 2 MiB).
        public static let pageSize = 7
        /// Set by the processor when EPTP bit 6 enables A/D flags.
        public static let accessed = 8
        /// Leaves only; set on write when A/D flags are enabled.
        public static let dirty = 9
        /// User-mode execute, with "mode-based execute control".
        public static let userExecute = 10
        /// Bits 51:12 of the referenced table or mapped page. Bits below the
        /// page size are reserved (must be 0) in 2 MiB and 1 GiB leaves.
        public static let address = 12...51
        /// Bits 7:3 of a PML4E and bits 6:3 of a non-leaf PDPTE/PDE are
        /// reserved (must be 0).
        public static let reservedInPML4E = 3...7
        public static let reservedInTableReference = 3...6
    }

    /// Non-leaf entries grant all of R/W/X: the leaf alone decides, so one
    /// region's permissions never leak into another's through a shared table.
    public static var tableReference: EPTEntry {
        var entry = EPTEntry(rawValue: 0)
        entry.permissions = .all
        return entry
    }

    /// A leaf mapping the `size` page at `address` (aligned to `size`).
    public static func leaf(
        mapping address: UInt64, size: EPTPageSize, permissions: EPTPermissions,
        memoryType: EPTMemoryType, ignoresPAT: Bool = false
    ) -> EPTEntry {
        precondition(address.isAligned(to: size.bytes), "EPT leaf address not aligned to its page size")
        var entry = EPTEntry(rawValue: 0)
        entry.permissions = permissions
        entry.memoryType = memoryType
        entry.ignoresPAT = ignoresPAT
        entry.isLargePage = size != .size4KiB
        entry.physicalAddress = address
        return entry
    }

    public func splitting(from level: EPTLevel, into size: EPTPageSize, at address: UInt64) -> EPTEntry {
        var leaf = self
        leaf.isLargePage = size != .size4KiB
        leaf.physicalAddress = address
        return leaf
    }

    public mutating func setLeafPermissions(_ permissions: EPTPermissions) {
        self.permissions = permissions
    }

    public var permissions: EPTPermissions {
        get { EPTPermissions(rawValue: UInt8(self[bits: Field.permissions])) }
        set { self[bits: Field.permissions] = UInt64(newValue.rawValue) }
    }

    /// An entry with none of R/W/X is not present: the walk stops and the
    /// access is an EPT violation. (With mode-based execute control, bit 10
    /// alone would also make it present; this module leaves that off.)
    public var isPresent: Bool { !permissions.isEmpty }

    public var memoryType: EPTMemoryType {
        get { EPTMemoryType(rawValue: UInt8(self[bits: Field.memoryType])) }
        set { self[bits: Field.memoryType] = UInt64(newValue.rawValue) }
    }

    /// When set, the leaf's memory type is used as is; when clear it is
    /// combined with the guest's PAT type, so a guest mapping RAM as UC (for
    /// a frame buffer, say) keeps getting UC.
    public var ignoresPAT: Bool {
        get { self[bit: Field.ignorePAT] }
        set { self[bit: Field.ignorePAT] = newValue }
    }

    public var isUserExecutable: Bool {
        get { self[bit: Field.userExecute] }
        set { self[bit: Field.userExecute] = newValue }
    }

    /// The page or table this entry references, at any level (EPT keeps
    /// no other bits in 51:12).
    public func address(at level: EPTLevel) -> UInt64 { physicalAddress }

    /// Bits 5:3, whatever the level.
    public func memoryType(at level: EPTLevel) -> EPTMemoryType { memoryType }

    /// Permissions must be present and not write-without-read; the memory
    /// type one of UC, WC, WT, WP, WB.
    public static func validate(permissions: EPTPermissions, memoryType: EPTMemoryType) throws(EPTBuildError) {
        guard !permissions.isEmpty, permissions.isValid else { throw .invalidPermissions(permissions) }
        guard memoryType.isValid else { throw .invalidMemoryType(memoryType) }
    }

    /// A leaf with `permissions` and `memoryType`, the guest PAT in play.
    public static func identityLeaf(
        _ address: UInt64, size: EPTPageSize, permissions: EPTPermissions, memoryType: EPTMemoryType
    ) -> EPTEntry {
        leaf(mapping: address, size: size, permissions: permissions, memoryType: memoryType)
    }

    /// The misconfiguration checks that do not depend on CPU capabilities:
    /// write without read, a reserved memory type in a leaf, reserved bits
    /// set in a table reference, address bits below the page size set in a
    /// large leaf. (Execute-only entries are allowed: whether the CPU
    /// supports them is IA32_VMX_EPT_VPID_CAP bit 0, which the walker does
    /// not know.)
    ///
    /// Intel SDM Vol. 3C, "EPT Misconfigurations" (29.3.3.1 in rev. 84).
    public func isMalformed(at level: EPTLevel) -> Bool {
        if !permissions.isValid { return true }
        if isLeaf(at: level) {
            guard memoryType.isValid, let size = level.leafSize else { return true }
            return !physicalAddress.isAligned(to: size.bytes)
        }
        let reserved = level == .pml4 ? Field.reservedInPML4E : Field.reservedInTableReference
        return self[bits: reserved] != 0
    }
}
