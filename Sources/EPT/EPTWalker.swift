import Primitives

/// What a guest-physical address translates to through an EPT leaf.
public typealias EPTMapping = PageTableMapping<EPTEntry>
/// The outcome of walking the EPT tables for one guest-physical address.
public typealias EPTTranslation = PageTableTranslation<EPTEntry>
/// A leaf found by `EPTWalker.forEachLeaf`.
public typealias EPTLeaf = PageTableLeaf<EPTEntry>

/// Reads EPT tables the way the processor does (see `PageTableWalker`).
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84) and
/// "EPT Misconfigurations" (29.3.3.1 in rev. 84).
public typealias EPTWalker<Memory: PhysicalMemory> = PageTableWalker<EPTEntry, Memory>

extension PageTableWalker where Entry == EPTEntry {
    public init(memory: Memory, pointer: EPTPointer) {
        self.init(memory: memory, pml4Address: pointer.pml4Address)
    }
}

extension PageTableMapping where Entry == EPTEntry {
    public var ignoresPAT: Bool { entry.ignoresPAT }
}
