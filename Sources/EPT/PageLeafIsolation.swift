import Primitives

/// Gives one 4 KiB page of an identity EPT or nested page table its own
/// leaf, so that its permissions can differ from its neighbours' (the local
/// APIC's page, read-only for a guest whose APIC writes the hypervisor
/// emulates).
///
/// The builder maps with the largest leaves alignment allows, so the page
/// usually sits inside a 2 MiB or 1 GiB leaf. Splitting replaces such a
/// leaf by a reference to a new table of 512 leaves of the next smaller
/// size that map the same frames with the same attributes (permissions,
/// memory type; `PageTableEntry.splitting`): every translation stays what
/// it was, only the page size changes. One table page per split level.
/// The caller invalidates the derived translations afterwards (INVEPT; a
/// TLB flush of the guest's ASID under AMD-V) on every CPU that uses these
/// tables.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84), the
/// entry formats for 1 GiB, 2 MiB and 4 KiB pages; AMD APM Vol. 2, "Nested
/// Paging" (15.25 in rev. 3.42) and "Page-Translation-Table Entry Fields".
public enum PageLeafIsolation<Entry: PageTableEntry> {
    /// The physical address of the 4 KiB leaf entry that maps `address` in
    /// the tables rooted at `pml4`, after splitting the larger leaves above
    /// it (pages from `pages`). Throws `notMapped` when no leaf maps it;
    /// nothing is changed then.
    public static func leafSlot<Memory: PhysicalMemory, Source: PageSource>(
        mapping address: UInt64, pml4 root: UInt64, in memory: inout Memory, pages: inout Source
    ) throws(PageTableBuildError<Entry>) -> UInt64 {
        guard address >> UInt64(EPTLevel.addressWidth) == 0 else {
            throw .beyondAddressWidth(PhysicalRange(start: address, length: Page.size))
        }
        var table = root
        var level = EPTLevel.pml4
        while true {
            let slot = table + UInt64(level.index(of: address)) * 8
            let entry = Entry(rawValue: memory.load(UInt64.self, at: slot))
            guard entry.isPresent, !entry.isMalformed(at: level) else { throw .notMapped(at: address) }
            guard let next = level.next else { return slot }  // a PTE: the 4 KiB leaf
            if entry.isLeaf(at: level) {
                table = try split(entry, at: level, into: next, slot: slot, memory: &memory, pages: &pages)
            } else {
                table = entry.address(at: level)
            }
            level = next
        }
    }

    /// Sets the permissions of the leaf at `slot` (from `leafSlot`),
    /// checked as the builder checks a range's (`PageTableEntry.validate`).
    public static func setPermissions<Memory: PhysicalMemory>(
        _ permissions: EPTPermissions, ofLeafAt slot: UInt64, in memory: inout Memory
    ) throws(PageTableBuildError<Entry>) {
        guard !permissions.isEmpty, permissions.isValid else { throw .invalidPermissions(permissions) }
        var entry = Entry(rawValue: memory.load(UInt64.self, at: slot))
        try Entry.validate(permissions: permissions, memoryType: entry.memoryType(at: .pageTable))
        entry.setLeafPermissions(permissions)
        memory.store(entry.rawValue, at: slot)
    }

    /// Replaces the large leaf `entry` (at `slot`, `level`) by a table of
    /// leaves of `child`'s size; returns the table's address.
    private static func split<Memory: PhysicalMemory, Source: PageSource>(
        _ entry: Entry, at level: EPTLevel, into child: EPTLevel, slot: UInt64,
        memory: inout Memory, pages: inout Source
    ) throws(PageTableBuildError<Entry>) -> UInt64 {
        guard let table = pages.allocatePage() else { throw .outOfPages }
        guard table.isAligned(to: Page.size) else { throw .misalignedPage(table) }
        guard let size = child.leafSize else { fatalError("every level below the PML4 has leaves") }
        let base = entry.address(at: level)
        for index in 0..<UInt64(EPTLevel.entriesPerTable) {
            let leaf = entry.splitting(from: level, into: size, at: base + index * size.bytes)
            memory.store(leaf.rawValue, at: table + index * 8)
        }
        // The table is complete before the processor can see it.
        memory.store(Entry.table(at: table).rawValue, at: slot)
        return table
    }
}

/// Intel's EPT.
public typealias EPTPageIsolation = PageLeafIsolation<EPTEntry>
/// AMD's nested page tables.
public typealias NPTPageIsolation = PageLeafIsolation<NPTEntry>

extension PageLeafIsolation where Entry == EPTEntry {
    /// `leafSlot` in the EPT `pointer` names.
    public static func leafSlot<Memory: PhysicalMemory, Source: PageSource>(
        mapping address: UInt64, under pointer: EPTPointer, in memory: inout Memory, pages: inout Source
    ) throws(EPTBuildError) -> UInt64 {
        try leafSlot(mapping: address, pml4: pointer.pml4Address, in: &memory, pages: &pages)
    }
}
