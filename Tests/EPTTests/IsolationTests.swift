@testable import EPT
import Primitives
import Testing

/// The memory rules of a hypervisor that contains its guest, checked on the
/// tables the hypervisor's own code builds (HostMemoryPlan, HostPageTables,
/// EPTIdentityLayout, EPTBuilder) for the Bochs 512 MiB machine: no
/// guest-physical page maps a frame of the host's CR3 tree, of the hidden
/// ranges, or of the host's descriptor tables.
@Suite struct IsolationTests {
    /// The payload and image as on a Linux boot: manifest at 2 MiB, image
    /// with .bss (GDT, IDT, TSS, stacks) right after, guest blobs after that.
    static let image = PhysicalRange(start: 0x20_0000, end: 0x1E0_0000)
    /// The page below the boot stack, at the end of the image's .bss.
    static let stackGuardPage: UInt64 = 0x3C_7000
    /// Where the GDT, IDT and TSS land in the image's .bss.
    static let descriptorTables = [
        PhysicalRange(start: 0x3A_1000, length: 0x40),
        PhysicalRange(start: 0x3A_2000, length: 0x1000),
        PhysicalRange(start: 0x3A_3000, length: 0x68),
    ]

    struct Machine {
        var memory = FakePhysicalMemory()
        var plan: HostMemoryPlan
        var host: HostPageTables
        var ept: EPTWalker<FakePhysicalMemory>
    }

    /// Builds what the hypervisor builds at boot, hiding `hidden` (the
    /// plan's own list unless a test passes a wrong one).
    static func boot(use1GiBPages: Bool, hiding hidden: ((HostMemoryPlan) -> PhysicalRangeList)? = nil) throws -> Machine {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        let plan = try HostMemoryPlan(map: map, image: image, poolPages: 4096, poolAlignment: 0x20_0000)
        var pool = try plan.poolAllocator(map: map)
        var memory = FakePhysicalMemory()
        let top = max(UInt64(0x1_0000_0000), map.end)
        let pages = HostPageTables.pagesNeeded(top: top, use1GiBPages: use1GiBPages, guardPage: true)
        let base = try pool.allocate(pages: pages)
        let host = HostPageTables(
            identityMapping: top, use1GiBPages: use1GiBPages, guardPage: stackGuardPage, at: base, in: &memory)

        let layout = try EPTIdentityLayout(map: map, hiding: hidden?(plan) ?? plan.hidden)
        var builder = try EPTBuilder(memory: memory, supports1GiB: use1GiBPages, pages: &pool)
        try builder.map(layout, pages: &pool)
        return Machine(memory: memory, plan: plan, host: host, ept: EPTWalker(memory: memory, pointer: builder.pointer()))
    }

    @Test(arguments: [false, true])
    func noGuestPageMapsHostMemory(use1GiBPages: Bool) throws {
        let machine = try Self.boot(use1GiBPages: use1GiBPages)
        // The host's tables are where the plan says, and the plan hides them.
        #expect(machine.plan.pool.contains(machine.host.frames))
        #expect(machine.plan.pool.end <= HostMemoryPlan.poolLimit)

        let exposed = IsolationCheck.firstExposedTableFrame(
            hostCR3: machine.host.cr3, memory: machine.memory, in: machine.ept)
        #expect(exposed == nil, "host page-table frame \(exposed.map { String($0.frame, radix: 16) } ?? "") is guest-visible")
        for range in machine.plan.hidden {
            #expect(IsolationCheck.firstLeaf(exposing: range, in: machine.ept) == nil, "\(range) is guest-visible")
        }
        for table in Self.descriptorTables {
            #expect(machine.plan.hides(table))
            #expect(IsolationCheck.firstLeaf(exposing: table, in: machine.ept) == nil)
        }
        // The walk finds exactly the frames the builder wrote, all pooled.
        var walked = 0
        HostPageTables.forEachTableFrame(cr3: machine.host.cr3, memory: machine.memory) { frame in
            walked += 1
            #expect(machine.host.frames.contains(frame))
        }
        #expect(UInt64(walked) == machine.host.frames.pageCount)
    }

    /// The check can fail: hide the image but forget the pool, and it finds
    /// the host's page tables (and the pool) mapped into the guest.
    @Test func forgettingThePoolIsCaught() throws {
        let machine = try Self.boot(use1GiBPages: false) { plan in
            var list = PhysicalRangeList()
            try? list.append(plan.image)
            return list
        }
        let exposed = try #require(IsolationCheck.firstExposedTableFrame(
            hostCR3: machine.host.cr3, memory: machine.memory, in: machine.ept))
        #expect(exposed.frame == machine.host.cr3)
        #expect(IsolationCheck.firstLeaf(exposing: machine.plan.pool, in: machine.ept) != nil)
    }

    /// Stage 2's tables at 0x20000 are ordinary guest RAM after boot: the
    /// host must not be running on them (it is not: its CR3 is in the pool).
    @Test func stageTwoTablesAreGuestRAMAndNotTheHosts() throws {
        let machine = try Self.boot(use1GiBPages: true)
        let stageTwoTables = PhysicalRange(start: 0x2_0000, end: 0x6_0000)
        #expect(IsolationCheck.firstLeaf(exposing: stageTwoTables, in: machine.ept) != nil)
        #expect(!stageTwoTables.contains(machine.host.cr3))
    }

    @Test(arguments: [false, true])
    func hostTablesIdentityMapEverything(use1GiBPages: Bool) throws {
        var memory = FakePhysicalMemory()
        let host = HostPageTables(identityMapping: 0x1_4000_0000, use1GiBPages: use1GiBPages, at: 0x8000_0000_0000, in: &memory)
        #expect(host.top == 0x1_4000_0000)
        #expect(host.frames.pageCount == (use1GiBPages ? 2 : 7))
        for address: UInt64 in [0, 0xB8000, 0x20_1234, 0xFEE0_0000, 0x1_3FFF_FFF8] {
            #expect(Self.translate(address, cr3: host.cr3, memory: memory) == address)
        }
        #expect(Self.translate(0x1_4000_0000, cr3: host.cr3, memory: memory) == nil)
    }

    /// The guard page is the one hole: its neighbours, the rest of its
    /// 2 MiB and GiB and every other GiB stay identity-mapped, and the walk
    /// of the live tables finds the extra page directory / page table.
    @Test(arguments: [false, true])
    func hostTablesLeaveOnlyTheGuardPageUnmapped(use1GiBPages: Bool) throws {
        var memory = FakePhysicalMemory()
        let guardPage: UInt64 = 0x3C_7000
        let base: UInt64 = 0x8000_0000_0000
        let host = HostPageTables(
            identityMapping: 0x1_4000_0000, use1GiBPages: use1GiBPages, guardPage: guardPage, at: base, in: &memory)
        #expect(host.guardPage == guardPage)
        #expect(host.frames.pageCount == UInt64(HostPageTables.pagesNeeded(top: 0x1_4000_0000, use1GiBPages: use1GiBPages, guardPage: true)))
        #expect(host.frames.pageCount == (use1GiBPages ? 4 : 8))
        #expect(Self.translate(guardPage, cr3: host.cr3, memory: memory) == nil)
        #expect(Self.translate(guardPage + 0xFF8, cr3: host.cr3, memory: memory) == nil)
        for address: UInt64 in [0, 0xB8000, 0x20_0000, 0x20_1234, guardPage - 8, guardPage + 0x1000, 0x3F_FFF8,
                                0x40_0000, 0x3FFF_FFF8, 0x4000_0000, 0xFEE0_0000, 0x1_3FFF_FFF8] {
            #expect(Self.translate(address, cr3: host.cr3, memory: memory) == address, "0x\(String(address, radix: 16))")
        }
        var walked: [UInt64] = []
        HostPageTables.forEachTableFrame(cr3: host.cr3, memory: memory) { walked.append($0) }
        #expect(walked.count == Int(host.frames.pageCount))
        #expect(walked.allSatisfy { host.frames.contains($0) })
        // A set everywhere and D on the 4 KiB leaves: the CPU never writes them.
        for frame in walked {
            for index in 0..<UInt64(512) {
                let entry = memory.load(UInt64.self, at: frame + index * 8)
                guard entry & HostPageTables.present != 0 else { continue }
                #expect(entry & HostPageTables.accessed != 0)
            }
        }
        let pageTable = host.frames.end - 0x1000
        let guardEntry = memory.load(UInt64.self, at: pageTable + ((guardPage >> 12) & 0x1FF) * 8)
        let neighbour = memory.load(UInt64.self, at: pageTable + ((guardPage >> 12) & 0x1FF) * 8 + 8)
        #expect(guardEntry == 0)
        #expect(neighbour == (guardPage + 0x1000) | HostPageTables.present | HostPageTables.writable | HostPageTables.accessed | HostPageTables.dirty)
    }

    /// A 4-level walk of host tables (enough for the identity maps here).
    static func translate(_ address: UInt64, cr3: UInt64, memory: FakePhysicalMemory) -> UInt64? {
        var table = cr3
        for level in stride(from: 4, through: 1, by: -1) {
            let index = (address >> UInt64(12 + 9 * (level - 1))) & 0x1FF
            let entry = memory.load(UInt64.self, at: table + index * 8)
            guard entry & HostPageTables.present != 0 else { return nil }
            let frame = entry & HostPageTables.addressMask
            if level == 1 || (level <= 3 && entry & HostPageTables.pageSize != 0) {
                let offsetBits = UInt64(12 + 9 * (level - 1))
                return frame | (address & ((1 << offsetBits) - 1))
            }
            table = frame
        }
        return nil
    }
}
