@testable import EPT
import Primitives
import Testing

/// The isolation proof on nested page tables, and on both formats through
/// the same generic check: the boot of `IsolationTests` (plan, pool, host
/// page tables) with the guest's tables built as NPT or EPT, then broken on
/// purpose to see the check catch it.
@Suite struct NPTIsolationTests {
    struct Machine<Entry: PageTableEntry> {
        var memory: FakePhysicalMemory
        var plan: HostMemoryPlan
        var host: HostPageTables
        var builder: PageTableBuilder<Entry, FakePhysicalMemory>
        var pool: FrameAllocator
        var walker: PageTableWalker<Entry, FakePhysicalMemory> {
            PageTableWalker(memory: memory, pml4Address: builder.pml4Address)
        }

        /// Maps `range` into the guest after the fact (a builder bug, or a
        /// wrong hidden list).
        mutating func leak(_ range: PhysicalRange) throws {
            try builder.map(range, permissions: .all, memoryType: .writeBack, pages: &pool)
        }
    }

    /// What the hypervisor builds at boot: host page tables and the guest's
    /// tables in the pool, the plan's hidden ranges left out.
    static func boot<Entry: PageTableEntry>(_ format: Entry.Type, use1GiBPages: Bool) throws -> Machine<Entry> {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        let plan = try HostMemoryPlan(map: map, image: IsolationTests.image, poolPages: 4096, poolAlignment: 0x20_0000)
        var pool = try plan.poolAllocator(map: map)
        var memory = FakePhysicalMemory()
        let top = max(UInt64(0x1_0000_0000), map.end)
        let base = try pool.allocate(pages: HostPageTables.pagesNeeded(top: top, use1GiBPages: use1GiBPages, guardPage: true))
        let host = HostPageTables(
            identityMapping: top, use1GiBPages: use1GiBPages, guardPage: IsolationTests.stackGuardPage, at: base, in: &memory)
        var builder = try PageTableBuilder<Entry, FakePhysicalMemory>(memory: memory, supports1GiB: use1GiBPages, pages: &pool)
        try builder.map(try EPTIdentityLayout(map: map, hiding: plan.hidden), pages: &pool)
        return Machine(memory: memory, plan: plan, host: host, builder: builder, pool: pool)
    }

    static func holds<Entry: PageTableEntry>(_ machine: Machine<Entry>) -> Bool {
        let walker = machine.walker
        return IsolationCheck.firstExposedTableFrame(hostCR3: machine.host.cr3, memory: machine.memory, in: walker) == nil
            && IsolationCheck.firstSelfMappedTableFrame(in: walker) == nil
            && machine.plan.hidden.allSatisfy { IsolationCheck.firstLeaf(exposing: $0, in: walker) == nil }
    }

    @Test(arguments: [false, true])
    func nestedTablesExposeNothing(use1GiBPages: Bool) throws {
        let machine = try Self.boot(NPTEntry.self, use1GiBPages: use1GiBPages)
        #expect(Self.holds(machine))
        #expect(machine.plan.pool.contains(machine.builder.pml4Address))
        var frames = 0
        machine.walker.forEachTableFrame { frame in
            frames += 1
            #expect(machine.plan.pool.contains(frame))
        }
        #expect(frames == machine.builder.tablePages)
        // The guest still has its RAM.
        #expect(machine.walker.translate(machine.plan.pool.end).mapping?.memoryType == .writeBack)
    }

    @Test(arguments: [false, true])
    func eptExposesNothingEither(use1GiBPages: Bool) throws {
        #expect(Self.holds(try Self.boot(EPTEntry.self, use1GiBPages: use1GiBPages)))
    }

    /// One hidden page mapped by mistake: the IDT's page in the image.
    @Test func aMappedHiddenPageIsCaught() throws {
        var machine = try Self.boot(NPTEntry.self, use1GiBPages: true)
        let idt = IsolationTests.descriptorTables[1]
        try machine.leak(idt)
        let leaf = try #require(IsolationCheck.firstLeaf(exposing: machine.plan.image, in: machine.walker))
        #expect(leaf.guestPhysicalAddress == idt.start && leaf.pageSize == .size4KiB)
        #expect(leaf.hostRange == idt)
        #expect(IsolationCheck.firstLeaf(exposing: PhysicalRange(start: idt.end, end: machine.plan.image.end), in: machine.walker) == nil)
        #expect(!Self.holds(machine))
    }

    /// The guest's own PML4 mapped into the guest: it could rewrite its NPT.
    @Test func aReachableNestedTablePageIsCaught() throws {
        var machine = try Self.boot(NPTEntry.self, use1GiBPages: false)
        let pml4 = machine.builder.pml4Address
        try machine.leak(PhysicalRange(start: pml4, length: Page.size))
        let exposed = try #require(IsolationCheck.firstSelfMappedTableFrame(in: machine.walker))
        #expect(exposed.frame == pml4 && exposed.leaf.guestPhysicalAddress == pml4)
        // The host's tables are still unreachable: the two checks are apart.
        #expect(IsolationCheck.firstExposedTableFrame(hostCR3: machine.host.cr3, memory: machine.memory, in: machine.walker) == nil)
    }

    /// A table the walk reaches below the root (the page table made for the
    /// leak itself, taken from the pool after the host's tables).
    @Test func aReachableLowerTablePageIsCaught() throws {
        var machine = try Self.boot(NPTEntry.self, use1GiBPages: true)
        var frames: [UInt64] = []
        machine.walker.forEachTableFrame { frames.append($0) }
        let pageTable = try #require(frames.last)
        #expect(pageTable != machine.builder.pml4Address)
        try machine.leak(PhysicalRange(start: pageTable, length: Page.size))
        #expect(IsolationCheck.firstSelfMappedTableFrame(in: machine.walker)?.frame == pageTable)
    }

    /// The host's PML4 mapped into the guest through NPT.
    @Test func aReachableHostTablePageIsCaught() throws {
        var machine = try Self.boot(NPTEntry.self, use1GiBPages: true)
        try machine.leak(PhysicalRange(start: machine.host.cr3, length: Page.size))
        let exposed = try #require(
            IsolationCheck.firstExposedTableFrame(hostCR3: machine.host.cr3, memory: machine.memory, in: machine.walker))
        #expect(exposed.frame == machine.host.cr3 && exposed.leaf.guestPhysicalAddress == machine.host.cr3)
    }
}
