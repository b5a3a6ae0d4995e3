@testable import EPT
import Primitives
import Testing

/// One page of the identity EPT gets its own 4 KiB leaf (the local APIC's,
/// made read-only for the SMP guests): every translation stays the same,
/// only the page sizes on the way change.
@Suite struct EPTPageIsolationTests {
    static let apicPage: UInt64 = 0xFEE0_0000

    static func leaves(_ memory: FakePhysicalMemory, _ pointer: EPTPointer) -> [PageTableLeaf<EPTEntry>] {
        var leaves: [PageTableLeaf<EPTEntry>] = []
        EPTWalker(memory: memory, pointer: pointer).forEachLeaf { leaves.append($0) }
        return leaves
    }

    @Test("a 1 GiB leaf splits into 2 MiB, then 4 KiB leaves; translations unchanged", arguments: [true, false])
    func splitKeepsTranslations(supports1GiB: Bool) throws {
        var (memory, pointer, pages) = try Fixtures.bochsEPT(supports1GiB: supports1GiB)
        let walker = { EPTWalker(memory: memory, pointer: pointer) }
        let before = try #require(walker().translate(Self.apicPage).mapping)
        #expect(before.pageSize == (supports1GiB ? .size1GiB : .size2MiB))
        let probes: [UInt64] = [0xC000_0000, 0xFEC0_0000, Self.apicPage, Self.apicPage + 0x300, Self.apicPage + 0x1000,
                                0xFEDF_F000, 0xFFFF_F000, 0x1000, Fixtures.hiddenRegion.start]
        let expected = probes.map { walker().translate($0) }
        let pagesBefore = pages.next

        let slot = try EPTPageIsolation.leafSlot(mapping: Self.apicPage + 0x300, under: pointer, in: &memory, pages: &pages)

        let after = try #require(walker().translate(Self.apicPage).mapping)
        #expect(after.pageSize == .size4KiB)
        #expect(after.hostPhysicalAddress == Self.apicPage && after.memoryType == before.memoryType
                && after.permissions == before.permissions && after.entry.ignoresPAT == before.entry.ignoresPAT)
        #expect(EPTEntry(rawValue: memory.load(UInt64.self, at: slot)) == after.entry)
        // One table page per level split: 1 GiB -> 2 MiB -> 4 KiB, or 2 MiB -> 4 KiB.
        #expect((pages.next - pagesBefore) / Page.size == (supports1GiB ? 2 : 1))
        for (probe, old) in zip(probes, expected) {
            let new = walker().translate(probe)
            #expect(new.mapping?.hostPhysicalAddress == old.mapping?.hostPhysicalAddress, "GPA \(probe)")
            #expect(new.mapping?.memoryType == old.mapping?.memoryType && new.mapping?.permissions == old.mapping?.permissions)
        }
        // Neighbours: 2 MiB leaves around the split one (with 1 GiB leaves), 4 KiB in its 2 MiB.
        #expect(walker().translate(Self.apicPage + 0x1000).mapping?.pageSize == .size4KiB)
        if supports1GiB { #expect(walker().translate(0xC000_0000).mapping?.pageSize == .size2MiB) }
        // A second call splits nothing more.
        let again = pages.next
        #expect(try EPTPageIsolation.leafSlot(mapping: Self.apicPage, under: pointer, in: &memory, pages: &pages) == slot)
        #expect(pages.next == again)
    }

    @Test("read-only: writes fault, reads and fetches do not; back to all")
    func permissions() throws {
        var (memory, pointer, pages) = try Fixtures.bochsEPT()
        let slot = try EPTPageIsolation.leafSlot(mapping: Self.apicPage, under: pointer, in: &memory, pages: &pages)
        let others = Self.leaves(memory, pointer).filter { $0.guestPhysicalAddress != Self.apicPage }
        try EPTPageIsolation.setPermissions([.read, .execute], ofLeafAt: slot, in: &memory)
        let walker = EPTWalker(memory: memory, pointer: pointer)
        #expect(walker.translate(Self.apicPage + 0xB0).mapping?.permissions == [.read, .execute])
        #expect(walker.translate(Self.apicPage + 0x1000).mapping?.permissions == .all)
        #expect(Self.leaves(memory, pointer).filter { $0.guestPhysicalAddress != Self.apicPage } == others)
        try EPTPageIsolation.setPermissions(.all, ofLeafAt: slot, in: &memory)
        #expect(EPTWalker(memory: memory, pointer: pointer).translate(Self.apicPage).mapping?.permissions == .all)
        // Write without read is a misconfiguration; none at all means unmapped.
        #expect(throws: EPTBuildError.invalidPermissions([.write])) {
            try EPTPageIsolation.setPermissions([.write], ofLeafAt: slot, in: &memory)
        }
        #expect(throws: EPTBuildError.invalidPermissions([])) {
            try EPTPageIsolation.setPermissions([], ofLeafAt: slot, in: &memory)
        }
    }

    @Test("an unmapped page (the hypervisor's) is refused and nothing changes")
    func unmapped() throws {
        var (memory, pointer, pages) = try Fixtures.bochsEPT()
        let before = Self.leaves(memory, pointer)
        let start = pages.next
        #expect(throws: EPTBuildError.notMapped(at: Fixtures.hiddenRegion.start)) {
            try EPTPageIsolation.leafSlot(mapping: Fixtures.hiddenRegion.start, under: pointer, in: &memory, pages: &pages)
        }
        #expect(throws: EPTBuildError.beyondAddressWidth(PhysicalRange(start: 1 << 48, length: Page.size))) {
            try EPTPageIsolation.leafSlot(mapping: 1 << 48, under: pointer, in: &memory, pages: &pages)
        }
        #expect(Self.leaves(memory, pointer) == before && pages.next == start)
    }
}

/// The same for AMD's nested page tables, whose leaves keep their memory
/// type in a PAT bit that moves (bit 12 in a large leaf, bit 7 in a 4 KiB
/// one, where bit 7 is no longer PS): the APIC page (uncacheable) and RAM
/// (write-back) keep their types through the split.
@Suite struct NPTPageIsolationTests {
    static let apicPage: UInt64 = 0xFEE0_0000

    @Test("splits keep every translation and memory type; read-only then all again", arguments: [true, false])
    func splitAndProtect(supports1GiB: Bool) throws {
        let built = try NPTBuilderTests.build(supports1GiB: supports1GiB)
        var memory = built.memory
        var pages = BumpPageSource(next: NPTBuilderTests.tableArea + 0x100_0000)
        let root = built.builder.nestedCR3
        let walker = { NPTWalker(memory: memory, nestedCR3: root) }
        let probes: [UInt64] = [0xC000_0000, 0xFEC0_0000, Self.apicPage, Self.apicPage + 0xB0, Self.apicPage + 0x1000,
                                0xFEDF_F000, 0x1000, 0x10_0000, Fixtures.hiddenRegion.start]
        let expected = probes.map { walker().translate($0) }
        #expect(try #require(walker().translate(Self.apicPage).mapping).pageSize != .size4KiB)

        let slot = try NPTPageIsolation.leafSlot(mapping: Self.apicPage + 0xB0, pml4: root.pml4Address, in: &memory, pages: &pages)

        let after = try #require(walker().translate(Self.apicPage).mapping)
        #expect(after.pageSize == .size4KiB && after.hostPhysicalAddress == Self.apicPage)
        #expect(NPTEntry(rawValue: memory.load(UInt64.self, at: slot)) == after.entry)
        for (probe, old) in zip(probes, expected) {
            let new = walker().translate(probe)
            #expect(new.mapping?.hostPhysicalAddress == old.mapping?.hostPhysicalAddress, "GPA \(probe)")
            #expect(new.mapping?.memoryType == old.mapping?.memoryType, "GPA \(probe)")
            #expect(new.mapping?.permissions == old.mapping?.permissions, "GPA \(probe)")
        }
        try NPTPageIsolation.setPermissions([.read, .execute], ofLeafAt: slot, in: &memory)
        #expect(walker().translate(Self.apicPage + 0x300).mapping?.permissions == [.read, .execute])
        #expect(walker().translate(Self.apicPage + 0x1000).mapping?.permissions == .all)
        #expect(walker().translate(Self.apicPage).mapping?.memoryType == after.memoryType)
        try NPTPageIsolation.setPermissions(.all, ofLeafAt: slot, in: &memory)
        #expect(walker().translate(Self.apicPage).mapping?.permissions == .all)
        // A present long-mode entry is always readable: write alone is refused.
        #expect(throws: NPTBuildError.invalidPermissions([.write, .execute])) {
            try NPTPageIsolation.setPermissions([.write, .execute], ofLeafAt: slot, in: &memory)
        }
    }
}
