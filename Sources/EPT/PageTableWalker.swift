import Primitives

/// What a guest-physical address translates to through a leaf.
public struct PageTableMapping<Entry: PageTableEntry>: Hashable, Sendable {
    public var hostPhysicalAddress: UInt64
    /// The leaf, with the rest of its format's attributes.
    public var entry: Entry
    public var pageSize: EPTPageSize

    public var permissions: EPTPermissions { entry.permissions }
    /// The leaf's memory type (EPT: bits 5:3; NPT: the host PAT's entry).
    public var memoryType: EPTMemoryType { entry.memoryType(at: pageSize.level) }
}

/// The outcome of walking the tables for one guest-physical address.
public enum PageTableTranslation<Entry: PageTableEntry>: Hashable, Sendable {
    case mapped(PageTableMapping<Entry>)
    /// The entry at `level` is not present: an access would be an EPT
    /// violation or a nested page fault.
    case notPresent(level: EPTLevel)
    /// The entry at `level` is malformed: an access would be an EPT
    /// misconfiguration (VM exit 49), or a nested page fault with the
    /// reserved-bit flag.
    case misconfigured(level: EPTLevel, entry: Entry)
    /// The address has bits set above bit 47, beyond a 4-level walk.
    case beyondAddressWidth

    /// The mapping, or nil for every other outcome.
    public var mapping: PageTableMapping<Entry>? {
        if case .mapped(let mapping) = self { return mapping }
        return nil
    }
}

/// A leaf found by `PageTableWalker.forEachLeaf`.
public struct PageTableLeaf<Entry: PageTableEntry>: Hashable, Sendable {
    /// The first guest-physical address the leaf maps.
    public var guestPhysicalAddress: UInt64
    public var entry: Entry
    public var pageSize: EPTPageSize

    /// The host-physical frames the leaf gives the guest.
    public var hostRange: PhysicalRange {
        PhysicalRange(start: entry.address(at: pageSize.level), length: pageSize.bytes)
    }
}

/// Reads second-level tables the way the processor does, through
/// `PhysicalMemory`: one walker for every `PageTableEntry` format
/// (`EPTWalker`, `NPTWalker`).
///
/// Tests use it to check what the builder wrote; the hypervisor uses it for
/// the isolation proof (`IsolationCheck`) and to explain a fault (which
/// entry, which level) in its panic report.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84);
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42).
public struct PageTableWalker<Entry: PageTableEntry, Memory: PhysicalMemory> {
    public var memory: Memory
    public let pml4Address: UInt64

    public init(memory: Memory, pml4Address: UInt64) {
        self.memory = memory
        self.pml4Address = pml4Address
    }

    /// Walks the tables for `address`.
    public func translate(_ address: UInt64) -> PageTableTranslation<Entry> {
        guard address >> UInt64(EPTLevel.addressWidth) == 0 else { return .beyondAddressWidth }
        var table = pml4Address
        var level = EPTLevel.pml4
        while true {
            let entry = Entry(rawValue: memory.load(UInt64.self, at: table + UInt64(level.index(of: address)) * 8))
            guard entry.isPresent else { return .notPresent(level: level) }
            guard !entry.isMalformed(at: level) else { return .misconfigured(level: level, entry: entry) }
            if entry.isLeaf(at: level), let size = level.leafSize {
                let offset = address & (size.bytes - 1)
                return .mapped(
                    PageTableMapping(hostPhysicalAddress: entry.address(at: level) | offset, entry: entry, pageSize: size))
            }
            table = entry.address(at: level)
            guard let next = level.next else { fatalError("a page-table entry is always a leaf") }
            level = next
        }
    }

    /// Calls `body` with every present leaf, in increasing guest-physical
    /// order. Malformed entries are skipped (and not followed).
    public func forEachLeaf(_ body: (PageTableLeaf<Entry>) -> Void) {
        var memory = self.memory
        PageTableLeaves.walk(pml4Address, level: .pml4, base: 0, memory: &memory, onTable: { _ in }) { leaf in
            body(leaf)
            return nil
        }
    }

    /// Calls `body` with the frame of every table the processor can reach
    /// from the root, the PML4 first, found by walking (not by trusting
    /// where the builder wrote them).
    public func forEachTableFrame(_ body: (UInt64) -> Void) {
        var memory = self.memory
        PageTableLeaves.walk(pml4Address, level: .pml4, base: 0, memory: &memory, onTable: body) { (_: PageTableLeaf<Entry>) -> Entry? in nil }
    }
}

/// Rewrites leaves in place: how the guest's MTRRs reach the leaves of
/// either format (`EPTMemoryTypes`, `NPTMemoryTypes`).
public enum PageTableLeaves {
    /// Calls `change` with every present, well-formed leaf under `pml4Address`
    /// and stores the entry it returns (nil: leave it). Returns how many
    /// leaves changed. The caller invalidates the cached translations
    /// afterwards (INVEPT; a TLB flush of the guest's ASID).
    @discardableResult
    public static func rewrite<Entry: PageTableEntry, Memory: PhysicalMemory>(
        under pml4Address: UInt64, in memory: inout Memory, _ change: (PageTableLeaf<Entry>) -> Entry?
    ) -> Int {
        var changed = 0
        walk(pml4Address, level: .pml4, base: 0, memory: &memory, onTable: { _ in }) { leaf in
            guard let new = change(leaf), new != leaf.entry else { return nil }
            changed += 1
            return new
        }
        return changed
    }

    /// The one traversal: `onTable` for each table frame reached, `onLeaf`
    /// for each present, well-formed leaf, whose non-nil answer replaces it.
    static func walk<Entry: PageTableEntry, Memory: PhysicalMemory>(
        _ table: UInt64, level: EPTLevel, base: UInt64, memory: inout Memory,
        onTable: (UInt64) -> Void, onLeaf: (PageTableLeaf<Entry>) -> Entry?
    ) {
        onTable(table)
        for index in 0..<EPTLevel.entriesPerTable {
            let slot = table + UInt64(index) * 8
            let entry = Entry(rawValue: memory.load(UInt64.self, at: slot))
            guard entry.isPresent, !entry.isMalformed(at: level) else { continue }
            let address = base + UInt64(index) * level.entrySpan
            if entry.isLeaf(at: level), let size = level.leafSize {
                if let new = onLeaf(PageTableLeaf(guestPhysicalAddress: address, entry: entry, pageSize: size)) {
                    memory.store(new.rawValue, at: slot)
                }
            } else if let next = level.next {
                walk(entry.address(at: level), level: next, base: address, memory: &memory,
                     onTable: onTable, onLeaf: onLeaf)
            }
        }
    }
}
