import Primitives

/// Proves, by walking the EPT tables as the processor would, that no
/// guest-physical page maps host memory the guest must not reach.
///
/// The hypervisor runs it at boot over its real EPT and its real host
/// structures (its CR3 tree, GDT, IDT, TSS, stack, image, pool) before the
/// first VM entry; the hosted tests run it over tables built the same way in
/// fake memory. It checks the host-physical side of every leaf, so it holds
/// whatever the guest-physical layout is.
public enum IsolationCheck {
    /// The first EPT leaf (in guest-physical order) whose host-physical
    /// frames overlap `forbidden`, or nil when none does.
    public static func firstLeaf<Memory: PhysicalMemory>(
        exposing forbidden: PhysicalRange, in ept: EPTWalker<Memory>
    ) -> EPTLeaf? {
        guard !forbidden.isEmpty else { return nil }
        var found: EPTLeaf?
        ept.forEachLeaf { leaf in
            guard found == nil else { return }
            let mapped = PhysicalRange(start: leaf.entry.physicalAddress, length: leaf.pageSize.bytes)
            if mapped.overlaps(forbidden) { found = leaf }
        }
        return found
    }

    /// The first frame of the host's page tables (walked from `hostCR3`)
    /// that an EPT leaf maps, with that leaf; nil when none is mapped.
    public static func firstExposedTableFrame<Memory: PhysicalMemory>(
        hostCR3: UInt64, memory: Memory, in ept: EPTWalker<Memory>
    ) -> (frame: UInt64, leaf: EPTLeaf)? {
        // Collect the host's table frames as runs first (they are usually
        // one contiguous run), so the EPT is walked once per run.
        var runs = PhysicalRangeList()
        var overflow = false
        HostPageTables.forEachTableFrame(cr3: hostCR3, memory: memory) { frame in
            let page = PhysicalRange(start: frame, length: Page.size)
            if let last = runs.last, last.end == frame {
                runs[runs.count - 1] = PhysicalRange(start: last.start, end: page.end)
            } else if (try? runs.append(page)) == nil {
                overflow = true
            }
        }
        precondition(!overflow, "host page tables scattered over more than 32 runs")
        return runs.withElements { runs in
            for run in runs {
                if let leaf = firstLeaf(exposing: run, in: ept) {
                    return (Swift.max(run.start, leaf.entry.physicalAddress), leaf)
                }
            }
            return nil
        }
    }
}
