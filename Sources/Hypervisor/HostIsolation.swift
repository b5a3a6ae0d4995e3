import EPT
import Primitives
import X86

/// The host's own page tables and the boot-time proof that the guest's EPT
/// maps none of the host.
///
/// Until `switchPageTables` the CPU runs on stage 2's tables at 0x20000,
/// which lie in memory the guest will own; afterwards it runs on tables in
/// the hidden pool, and nothing the boot stages built is used again (the
/// BootInfo and the E820 map were copied into `Platform` before).
enum HostIsolation {
    /// The host page tables in use after `switchPageTables`.
    nonisolated(unsafe) static var pageTables: HostPageTables?
    /// The GDT's and IDT's sizes as installed. (Every VM exit sets both
    /// limits to 0xFFFF: Intel SDM Vol. 3C, "Loading Host Segment and
    /// Descriptor-Table Registers"; SGDT/SIDT after the first exit no
    /// longer tell.)
    nonisolated(unsafe) static var gdtSize = 0
    nonisolated(unsafe) static var idtSize = 0

    /// Builds the identity map of [0, max(4 GiB, end of RAM)) in the pool,
    /// without the boot stack's guard page (Boot/hypervisor.ld), and loads
    /// CR3 with it. From here on a stack overflow faults (`hvException`).
    static func switchPageTables(platform: inout Platform, memory: IdentityMemory) -> HostPageTables {
        // CPUID.80000001H:EDX bit 26 (Page1GB): 1 GiB pages.
        let use1GiB = x86_cpuid(0x8000_0000, 0).eax >= 0x8000_0001 && x86_cpuid(0x8000_0001, 0).edx & (1 << 26) != 0
        let top = max(UInt64(0x1_0000_0000), platform.map.end)
        let pages = HostPageTables.pagesNeeded(top: top, use1GiBPages: use1GiB, guardPage: true)
        let base: UInt64
        do {
            base = try platform.allocator.allocate(pages: pages)
        } catch {
            fatal("paging: no \(pages) pool pages for the host page tables: \(error.message)")
        }
        var tables = memory
        let host = HostPageTables(identityMapping: top, use1GiBPages: use1GiB, guardPage: x86_stack_guard(), at: base, in: &tables)
        gdtSize = Int(x86_sgdt().limit) + 1
        idtSize = Int(x86_sidt().limit) + 1
        let stageTwoCR3 = x86_read_cr3()
        x86_write_cr3(host.cr3)
        pageTables = host
        console.line(
            "paging: host page tables at \(hex: host.frames.start)-\(hex: host.frames.end) (\(use1GiB ? "1 GiB" : "2 MiB") pages up to \(hex: host.top), stack guard page \(hex: x86_stack_guard()) unmapped); CR3 \(hex: stageTwoCR3) -> \(hex: host.cr3)"
        )
        return host
    }

    /// Walks the guest's EPT and stops the boot if any leaf maps a frame the
    /// host uses: its page tables (walked from the live CR3), the image and
    /// pool, the GDT, IDT and TSS, the stack. Prints what it checked.
    static func verify(ept: EPTPointer, platform: Platform, memory: IdentityMemory) {
        verify(EPTWalker(memory: memory, pointer: ept), platform: platform, memory: memory)
    }

    /// The same proof for AMD-V's nested page tables.
    static func verify(npt: NestedCR3, platform: Platform, memory: IdentityMemory) {
        verify(NPTWalker(memory: memory, nestedCR3: npt), platform: platform, memory: memory)
    }

    /// The proof over either format's tables (`Entry.formatName`: "EPT", "NPT").
    static func verify<Entry: PageTableEntry>(
        _ walker: PageTableWalker<Entry, IdentityMemory>, platform: Platform, memory: IdentityMemory
    ) {
        let format = Entry.formatName
        let cr3 = x86_read_cr3()
        guard let tables = pageTables, tables.cr3 == cr3 & ~UInt64(0xFFF), platform.plan.hides(tables.frames) else {
            fatal("isolation: the host does not run on its own page tables in the pool (CR3 \(hex: cr3))")
        }
        if let exposed = IsolationCheck.firstExposedTableFrame(hostCR3: cr3, memory: memory, in: walker) {
            fatal("isolation: \(format) maps host page-table frame \(hex: exposed.frame) at GPA \(hex: exposed.leaf.guestPhysicalAddress)")
        }
        let gdt = x86_sgdt(), idt = x86_sidt()
        let structures: [(StaticString, PhysicalRange)] = [
            ("image", platform.plan.image),
            ("pool", platform.plan.pool),
            ("GDT", PhysicalRange(start: gdt.base, length: UInt64(gdtSize))),
            ("IDT", PhysicalRange(start: idt.base, length: UInt64(idtSize))),
            ("TSS", PhysicalRange(start: x86_tss_base(), length: 0x68)),
            ("stack", PhysicalRange(start: x86_stack_bottom(), end: x86_stack_top())),
        ]
        for (name, range) in structures {
            guard platform.plan.hides(range) else {
                fatal("isolation: the host's \(name) \(hex: range.start)-\(hex: range.end) is outside the hidden ranges")
            }
            if let leaf = IsolationCheck.firstLeaf(exposing: range, in: walker) {
                fatal("isolation: \(format) maps the host's \(name) (\(hex: range.start)) at GPA \(hex: leaf.guestPhysicalAddress)")
            }
        }
        console.line("isolation: \(format) maps none of the host's page tables (\(tables.frames.pageCount) frames), image, pool, GDT, IDT, TSS, stack")
    }
}
