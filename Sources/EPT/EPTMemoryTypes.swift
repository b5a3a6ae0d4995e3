import Primitives

/// Rewrites the memory type of every present EPT leaf: how the guest's
/// MTRRs reach the hardware. With EPT on, the processor ignores the guest's
/// MTRRs and takes the memory type from the EPT leaf (combined with the
/// guest's PAT), so the hypervisor keeps the guest's MTRRs itself and
/// mirrors them into the leaves whenever they change.
///
/// Intel SDM Vol. 3C, "EPT and Memory Typing" (29.3.7 in rev. 84).
public enum EPTMemoryTypes {
    /// Sets each present leaf's memory type to `typeOf(gpa, size)` (the
    /// leaf's first guest-physical address and its size); leaves the rest
    /// of each entry alone. Returns how many leaves changed. The caller
    /// invalidates the EPT-derived translations afterwards (INVEPT).
    @discardableResult
    public static func retype<Memory: PhysicalMemory>(
        _ pointer: EPTPointer, in memory: inout Memory, typeOf: (UInt64, UInt64) -> EPTMemoryType
    ) -> Int {
        var changed = 0
        visit(table: pointer.pml4Address, level: .pml4, base: 0, memory: &memory, typeOf: typeOf, changed: &changed)
        return changed
    }

    private static func visit<Memory: PhysicalMemory>(
        table: UInt64, level: EPTLevel, base: UInt64, memory: inout Memory,
        typeOf: (UInt64, UInt64) -> EPTMemoryType, changed: inout Int
    ) {
        for index in 0..<EPTLevel.entriesPerTable {
            let slot = table + UInt64(index) * 8
            var entry = EPTEntry(rawValue: memory.load(UInt64.self, at: slot))
            guard entry.isPresent else { continue }
            let address = base + UInt64(index) * level.entrySpan
            if entry.isLeaf(at: level), let size = level.leafSize {
                let type = typeOf(address, size.bytes)
                guard type.isValid, type != entry.memoryType else { continue }
                entry.memoryType = type
                memory.store(entry.rawValue, at: slot)
                changed += 1
            } else if let next = level.next {
                visit(table: entry.physicalAddress, level: next, base: address, memory: &memory, typeOf: typeOf,
                      changed: &changed)
            }
        }
    }
}
