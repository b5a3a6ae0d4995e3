import Primitives

/// The hypervisor's own page tables: a 4-level identity map of [0, top)
/// that the host runs on after boot, written into frames of its hidden pool.
///
/// Why the host does not keep stage 2's tables: they lie in low memory that
/// the guest owns, so a guest could rewrite them and have the host run its
/// code in VMX root at the next exit. These tables live in the pool, which
/// EPT leaves unmapped, so no guest can read or write them.
///
/// 1 GiB leaves when the CPU has them (CPUID.80000001H:EDX.Page1GB), else
/// 2 MiB leaves; present, writable, supervisor, accessed (and dirty); no
/// PCD/PWT, so the MTRRs give the memory type (uncacheable for the MMIO the
/// firmware marked so).
/// All table frames are one contiguous run starting at `cr3`: the PML4,
/// then the PDPTs, then (2 MiB leaves only) one page directory per GiB,
/// then, with a guard page, the tables that map its neighbourhood finely.
///
/// The guard page (the page below the boot stack) is the one hole: its
/// 2 MiB get a page table of 4 KiB leaves (and its GiB a page directory,
/// with 1 GiB leaves) in which only the guard page's entry is not present,
/// so a stack overflow faults instead of writing over whatever lies below.
///
/// Intel SDM Vol. 3A, "4-Level Paging and 5-Level Paging" (4.5 in rev. 84).
public struct HostPageTables: Equatable, Sendable {
    public static let present: UInt64 = 1 << 0
    public static let writable: UInt64 = 1 << 1
    /// A (every entry) and D (leaves): set from the start, so the processor
    /// never writes them and the tables stay byte for byte as built (Intel
    /// SDM Vol. 3A, "Accessed and Dirty Flags": it sets them only if clear).
    /// The hostile-guest harness checks exactly that they do not change.
    public static let accessed: UInt64 = 1 << 5
    public static let dirty: UInt64 = 1 << 6
    /// PS: the entry maps a page (PDPTE: 1 GiB, PDE: 2 MiB).
    public static let pageSize: UInt64 = 1 << 7
    /// Bits 51:12 of an entry: the next table's or the page's frame.
    static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

    static let gibibyte: UInt64 = 1 << 30
    /// What one PML4 entry spans (512 GiB).
    static let pml4EntrySpan: UInt64 = 1 << 39

    /// The PML4's physical address, the value for CR3 (PCID 0, PWT/PCD 0).
    public let cr3: UInt64
    /// Every frame of the tables: [cr3, cr3 + pages * 4 KiB).
    public let frames: PhysicalRange
    /// The end of the identity map (a whole number of GiB).
    public let top: UInt64
    /// The one page left unmapped, if any.
    public let guardPage: UInt64?

    /// Table frames needed to map [0, top) (rounded up to a GiB), with a
    /// guard page: one page table more, and one page directory more with
    /// 1 GiB leaves.
    public static func pagesNeeded(top: UInt64, use1GiBPages: Bool, guardPage: Bool = false) -> Int {
        let gibibytes = Int((top + gibibyte - 1) / gibibyte)
        let directoryPointerTables = (gibibytes + 511) / 512
        let guardTables = guardPage ? (use1GiBPages ? 2 : 1) : 0
        return 1 + directoryPointerTables + (use1GiBPages ? 0 : gibibytes) + guardTables
    }

    /// Writes the tables into the `pagesNeeded(top:use1GiBPages:guardPage:)`
    /// frames at `base` (4 KiB aligned); `top` must be at most 256 TiB (all
    /// of a 4-level PML4). `guardPage`, if given, is a 4 KiB-aligned address
    /// below `top` that stays unmapped.
    public init<Memory: PhysicalMemory>(
        identityMapping top: UInt64, use1GiBPages: Bool, guardPage: UInt64? = nil, at base: UInt64, in memory: inout Memory
    ) {
        precondition(base.isAligned(to: Page.size), "host page tables must be 4 KiB aligned")
        precondition(top > 0 && top <= 512 * Self.pml4EntrySpan, "identity map beyond 4-level paging")
        let gibibytes = (top + Self.gibibyte - 1) / Self.gibibyte
        if let guardPage {
            precondition(guardPage.isAligned(to: Page.size) && guardPage < gibibytes * Self.gibibyte, "the guard page must be a mapped 4 KiB page")
        }
        let pages = Self.pagesNeeded(top: top, use1GiBPages: use1GiBPages, guardPage: guardPage != nil)
        for page in 0..<UInt64(pages) { memory.zeroPage(at: base + page * Page.size) }

        let flags = Self.present | Self.writable | Self.accessed
        let leaf = flags | Self.dirty
        let pml4 = base
        let firstPDPT = base + Page.size
        let pdptCount = UInt64((gibibytes + 511) / 512)
        let firstDirectory = firstPDPT + pdptCount * Page.size
        for index in 0..<pdptCount {
            memory.store(firstPDPT + index * Page.size | flags, at: pml4 + index * 8)
        }
        for gib in 0..<gibibytes {
            let pdpte = firstPDPT + gib * 8  // the PDPTs are consecutive: one flat array of PDPTEs
            if use1GiBPages {
                memory.store(gib * Self.gibibyte | leaf | Self.pageSize, at: pdpte)
                continue
            }
            let directory = firstDirectory + gib * Page.size
            memory.store(directory | flags, at: pdpte)
            for index in 0..<UInt64(512) {
                memory.store(gib * Self.gibibyte + index << 21 | leaf | Self.pageSize, at: directory + index * 8)
            }
        }
        if let guardPage {
            // The guard's GiB through a page directory (its own with 1 GiB
            // leaves), its 2 MiB through a page table of 4 KiB leaves.
            var next = firstDirectory + (use1GiBPages ? 0 : gibibytes * Page.size)
            let gib = guardPage / Self.gibibyte
            let directory: UInt64
            if use1GiBPages {
                directory = next
                next += Page.size
                for index in 0..<UInt64(512) {
                    memory.store(gib * Self.gibibyte + index << 21 | leaf | Self.pageSize, at: directory + index * 8)
                }
                memory.store(directory | flags, at: firstPDPT + gib * 8)
            } else {
                directory = firstDirectory + gib * Page.size
            }
            let pageTable = next
            let twoMiB = guardPage & ~(UInt64(1 << 21) - 1)
            for index in 0..<UInt64(512) where twoMiB + index * Page.size != guardPage {
                memory.store(twoMiB + index * Page.size | leaf, at: pageTable + index * 8)
            }
            memory.store(pageTable | flags, at: directory + ((guardPage >> 21) & 0x1FF) * 8)
        }
        cr3 = pml4
        frames = PhysicalRange(start: base, length: UInt64(pages) * Page.size)
        self.top = gibibytes * Self.gibibyte
        self.guardPage = guardPage
    }

    /// Calls `body` with the frame of every paging structure the processor
    /// can reach from `cr3`, found by walking the tables in `memory` (not by
    /// trusting where they were written): the PML4, each PDPT, each page
    /// directory, each page table.
    public static func forEachTableFrame<Memory: PhysicalMemory>(
        cr3: UInt64, memory: Memory, _ body: (UInt64) -> Void
    ) {
        func visit(_ table: UInt64, level: Int) {
            body(table)
            guard level > 1 else { return }
            for index in 0..<UInt64(512) {
                let entry = memory.load(UInt64.self, at: table + index * 8)
                guard entry & present != 0 else { continue }
                // PS in a PDPTE (level 3) or PDE (level 2) makes it a leaf.
                if level <= 3 && entry & pageSize != 0 { continue }
                visit(entry & addressMask, level: level - 1)
            }
        }
        visit(cr3 & addressMask, level: 4)
    }
}
