import Primitives

/// The page attribute table (IA32_PAT / the PAT MSR, 0x277): eight memory
/// types, one per byte (bits 2:0), selected by a page's PAT, PCD and PWT
/// bits as the index PAT * 4 + PCD * 2 + PWT.
///
/// Under nested paging the host's PAT (hPAT, the MSR as the hypervisor
/// left it at VMRUN) types every nested leaf, while the guest's page tables
/// index its own gPAT (a VMCB field). The hypervisor keeps the reset value,
/// so NPT leaves rely on exactly two of its entries: 0 (WB) for RAM and 3
/// (UC) for everything else, and on 1 (WT) when the guest's MTRRs ask for
/// it.
///
/// The encodings are the architectural memory types (those of
/// `EPTMemoryType`, plus 7, UC-, which only a PAT holds).
///
/// AMD APM Vol. 2, "Page-Attribute Table Mechanism" (7.8 in rev. 3.42);
/// Intel SDM Vol. 3A, "IA32_PAT MSR" (13.12.2 in rev. 84).
public struct PageAttributeTable: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The value after reset (and what pxHV keeps): WB, WT, UC-, UC, then
    /// the same four again.
    ///
    /// AMD APM Vol. 2, "Page-Attribute Table Mechanism" (7.8 in rev. 3.42).
    /// (Computed, not a stored global: a cross-module `static let` costs a
    /// lazy initializer in every module that reads it.)
    @inlinable public static var reset: PageAttributeTable { PageAttributeTable(rawValue: 0x0007_0406_0007_0406) }

    /// Entries: indices 0 to 7.
    public static let count = 8

    /// The memory type at `index` (0...7).
    public subscript(index: Int) -> EPTMemoryType {
        precondition((0..<Self.count).contains(index), "PAT index out of range")
        return EPTMemoryType(rawValue: UInt8(truncatingIfNeeded: rawValue >> UInt64(8 * index)) & 0x7)
    }

    /// The lowest index holding `type`, or nil when no entry does (the
    /// reset PAT has no WC and no WP).
    public func index(of type: EPTMemoryType) -> Int? {
        (0..<Self.count).first { self[$0] == type }
    }
}
