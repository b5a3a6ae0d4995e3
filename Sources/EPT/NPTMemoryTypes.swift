import Primitives

/// A nested leaf, as `NPTWalker.forEachLeaf` and `retype` see it.
public typealias NPTLeaf = PageTableLeaf<NPTEntry>

/// Rewrites the host-PAT index of every present nested leaf: how the
/// guest's MTRRs reach the hardware under AMD nested paging.
///
/// The rule. With nested paging on, an access's memory type comes from
/// three sources, and the guest's MTRRs are none of them:
/// 1. the guest PAT type: the guest's page-table PAT/PCD/PWT bits index the
///    guest's PAT (the VMCB's G_PAT);
/// 2. the host PAT type: the nested leaf's PAT/PCD/PWT bits index the host
///    PAT (the PAT MSR, kept at its reset value: `NPTEntry.hostPAT`);
/// 3. the two combine ("Combining Guest and Host PAT Types": the stricter
///    wins, so a host WB leaves the guest's choice and a host UC forces UC),
///    and the result combines with the host's MTRRs, applied to the system
///    physical address ("Combining PAT and MTRR Types"), as on bare metal.
/// The APM says why the host PAT type is there: "the intent is for the VMM
/// to use its PAT type to simulate guest MTRRs". So, as with EPT, the
/// hypervisor keeps the guest's MTRRs itself (it must intercept their MSRs
/// anyway: under SVM an MTRR write the permission map lets through changes
/// the real, host-wide MTRRs) and, whenever they change, gives each leaf
/// the host-PAT index of the type the guest's MTRRs make of its range.
///
/// The reset PAT holds WB (index 0), WT (1), UC- (2) and UC (3) only: a
/// range the guest's MTRRs make WC or WP gets UC, the type that is never
/// wrong (a WC frame buffer is then slower, not broken). Unlike EPT's
/// memory type, a host PAT type cannot make memory more cacheable than the
/// host's MTRRs allow: MMIO the firmware's MTRRs make UC stays UC.
///
/// AMD APM Vol. 2, "Combining Memory Types, MTRRs" (15.25.8 in rev. 3.42).
public enum NPTMemoryTypes {
    /// Sets each present leaf's PAT index to the index of `typeOf(gpa,
    /// size)` in the host PAT, or of UC when the PAT has no such entry
    /// (`typeOf` gets the leaf's first guest-physical address and its
    /// size); leaves the rest of each entry alone, and malformed entries as
    /// they are. Returns how many leaves changed. The caller then flushes
    /// the guest's nested translations (VMCB TLB_CONTROL for its ASID).
    @discardableResult
    public static func retype<Memory: PhysicalMemory>(
        _ nestedCR3: NestedCR3, in memory: inout Memory, typeOf: (UInt64, UInt64) -> EPTMemoryType
    ) -> Int {
        let pat = NPTEntry.hostPAT
        guard let uncacheable = pat.index(of: .uncacheable) else { preconditionFailure("the host PAT has no UC entry") }
        return PageTableLeaves.rewrite(under: nestedCR3.pml4Address, in: &memory) { (leaf: NPTLeaf) -> NPTEntry? in
            let index = pat.index(of: typeOf(leaf.guestPhysicalAddress, leaf.pageSize.bytes)) ?? uncacheable
            var entry = leaf.entry
            entry.setPATIndex(index, size: leaf.pageSize)
            return entry
        }
    }
}
