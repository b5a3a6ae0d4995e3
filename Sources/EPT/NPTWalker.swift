import Primitives

/// What a guest-physical address translates to through a nested leaf.
public typealias NPTMapping = PageTableMapping<NPTEntry>
/// The outcome of walking the nested tables for one guest-physical address
/// (`misconfigured`: a reserved bit is set, a nested page fault with RSV).
public typealias NPTTranslation = PageTableTranslation<NPTEntry>
/// A leaf found by `NPTWalker.forEachLeaf`.
public typealias NPTLeaf = PageTableLeaf<NPTEntry>

/// Reads nested page tables the way the processor's nested walk does (see
/// `PageTableWalker`): for the isolation proof and to explain a nested page
/// fault. An entry with P set counts as mapped even if its U/S is clear
/// (which faults every guest access): the isolation check then errs on the
/// side of reporting it.
///
/// AMD APM Vol. 2, "Nested Paging" (15.25 in rev. 3.42).
public typealias NPTWalker<Memory: PhysicalMemory> = PageTableWalker<NPTEntry, Memory>

extension PageTableWalker where Entry == NPTEntry {
    public init(memory: Memory, nestedCR3: NestedCR3) {
        self.init(memory: memory, pml4Address: nestedCR3.pml4Address)
    }
}

extension PageTableMapping where Entry == NPTEntry {
    public var permissions: EPTPermissions { entry.permissions }
    /// The leaf's host-PAT index (PAT, PCD, PWT).
    public var patIndex: Int { entry.patIndex(size: pageSize) }
    /// The memory type the leaf selects in the host PAT (reset value),
    /// before the guest's PAT type and the host's MTRRs combine with it.
    public var memoryType: EPTMemoryType { NPTEntry.hostPAT[patIndex] }
}
