import Primitives

/// Proves, by walking the second-level tables (EPT or NPT) as the processor
/// would, that no guest-physical page maps host memory the guest must not
/// reach.
///
/// The hypervisor runs it at boot over its real tables and its real host
/// structures (its CR3 tree, GDT, IDT, TSS, stack, image, pool) before the
/// first guest entry; the hosted tests run it over tables built the same way
/// in fake memory. It checks the host-physical side of every leaf, so it
/// holds whatever the guest-physical layout is, and it is generic over the
/// entry format, so one proof serves VT-x and AMD-V.
public enum IsolationCheck {
    /// The first leaf (in guest-physical order) whose host-physical frames
    /// overlap `forbidden`, or nil when none does.
    public static func firstLeaf<Entry: PageTableEntry, Memory: PhysicalMemory>(
        exposing forbidden: PhysicalRange, in tables: PageTableWalker<Entry, Memory>
    ) -> PageTableLeaf<Entry>? {
        guard !forbidden.isEmpty else { return nil }
        var found: PageTableLeaf<Entry>?
        tables.forEachLeaf { leaf in
            guard found == nil else { return }
            if leaf.hostRange.overlaps(forbidden) { found = leaf }
        }
        return found
    }

    /// The first frame of the host's page tables (walked from `hostCR3`)
    /// that a leaf maps, with that leaf; nil when none is mapped.
    public static func firstExposedTableFrame<Entry: PageTableEntry, Memory: PhysicalMemory>(
        hostCR3: UInt64, memory: Memory, in tables: PageTableWalker<Entry, Memory>
    ) -> (frame: UInt64, leaf: PageTableLeaf<Entry>)? {
        firstExposedFrame(in: tables) { body in HostPageTables.forEachTableFrame(cr3: hostCR3, memory: memory, body) }
    }

    /// The first frame of the second-level tables themselves (walked from
    /// their root) that one of their own leaves maps, with that leaf; nil
    /// when the guest can reach none of its tables. A guest that could
    /// write its own EPT or NPT could map any host frame.
    public static func firstSelfMappedTableFrame<Entry: PageTableEntry, Memory: PhysicalMemory>(
        in tables: PageTableWalker<Entry, Memory>
    ) -> (frame: UInt64, leaf: PageTableLeaf<Entry>)? {
        firstExposedFrame(in: tables) { body in tables.forEachTableFrame(body) }
    }

    /// Collects the frames `forEachFrame` names as runs first (table frames
    /// are usually one contiguous run), so the tables are walked once per
    /// run, then finds the first leaf exposing one.
    private static func firstExposedFrame<Entry: PageTableEntry, Memory: PhysicalMemory>(
        in tables: PageTableWalker<Entry, Memory>, _ forEachFrame: ((UInt64) -> Void) -> Void
    ) -> (frame: UInt64, leaf: PageTableLeaf<Entry>)? {
        var runs = PhysicalRangeList()
        var overflow = false
        forEachFrame { frame in
            let page = PhysicalRange(start: frame, length: Page.size)
            if let last = runs.last, last.end == frame {
                runs[runs.count - 1] = PhysicalRange(start: last.start, end: page.end)
            } else if (try? runs.append(page)) == nil {
                overflow = true
            }
        }
        precondition(!overflow, "page tables scattered over more than 32 runs")
        return runs.withElements { runs in
            for run in runs {
                if let leaf = firstLeaf(exposing: run, in: tables) {
                    return (Swift.max(run.start, leaf.hostRange.start), leaf)
                }
            }
            return nil
        }
    }
}
