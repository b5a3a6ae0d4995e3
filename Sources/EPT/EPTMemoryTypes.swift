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
    /// of each entry alone, and misconfigured entries as they are. Returns
    /// how many leaves changed. The caller invalidates the EPT-derived
    /// translations afterwards (INVEPT).
    @discardableResult
    public static func retype<Memory: PhysicalMemory>(
        _ pointer: EPTPointer, in memory: inout Memory, typeOf: (UInt64, UInt64) -> EPTMemoryType
    ) -> Int {
        PageTableLeaves.rewrite(under: pointer.pml4Address, in: &memory) { (leaf: EPTLeaf) -> EPTEntry? in
            let type = typeOf(leaf.guestPhysicalAddress, leaf.pageSize.bytes)
            guard type.isValid else { return nil }
            var entry = leaf.entry
            entry.memoryType = type
            return entry
        }
    }
}
