@testable import EPT
import Primitives
import Testing

/// The guest's MTRRs reach the hardware under nested paging through the
/// leaves' host-PAT indices: `NPTMemoryTypes.retype` rewrites exactly the
/// PAT, PCD and PWT bits, and only to indices the reset PAT has.
@Suite struct NPTMemoryTypesTests {
    /// PAT (bit 7 of a PTE, bit 12 of a large leaf), PCD (4), PWT (3).
    static func patBits(_ size: EPTPageSize) -> UInt64 {
        (size == .size4KiB ? 1 << 7 : 1 << 12) | 1 << 4 | 1 << 3
    }

    /// A guest that makes [0xA0000, 0xC0000) write-combining (the VGA
    /// window), [0xC0000, 0x100000) write-through, the rest write-back.
    static func guestMTRRs(_ start: UInt64, _ size: UInt64) -> EPTMemoryType {
        if start >= 0xA_0000 && start + size <= 0xC_0000 { return .writeCombining }
        if start >= 0xC_0000 && start + size <= 0x10_0000 { return .writeThrough }
        return .writeBack
    }

    @Test func retypesEveryLeafAndNothingElse() throws {
        let layout = try NPTBuilderTests.layout(NPTBuilderTests.bochsWithHighRAM)
        var memory = FakePhysicalMemory()
        var pages = BumpPageSource(next: NPTBuilderTests.tableArea)
        var builder = try NPTBuilder(memory: memory, supports1GiB: true, pages: &pages)
        try builder.map(layout, pages: &pages)
        let root = builder.nestedCR3
        var before: [UInt64: NPTLeaf] = [:]
        NPTWalker(memory: memory, nestedCR3: root).forEachLeaf { before[$0.guestPhysicalAddress] = $0 }

        let changed = NPTMemoryTypes.retype(root, in: &memory, typeOf: Self.guestMTRRs)
        var after: [UInt64: NPTLeaf] = [:]
        NPTWalker(memory: memory, nestedCR3: root).forEachLeaf { after[$0.guestPhysicalAddress] = $0 }
        #expect(Set(after.keys) == Set(before.keys))
        var expectedChanges = 0
        for (address, old) in before {
            let new = try #require(after[address])
            // WC is in no entry of the reset PAT: UC (index 3). WT is index
            // 1, WB index 0.
            let wanted = switch Self.guestMTRRs(address, old.pageSize.bytes) {
            case .writeCombining: 3
            case .writeThrough: 1
            default: 0
            }
            #expect(new.entry.patIndex(size: new.pageSize) == wanted, "GPA \(address)")
            let others = ~Self.patBits(old.pageSize)
            #expect(new.entry.rawValue & others == old.entry.rawValue & others, "GPA \(address)")
            if old.entry.patIndex(size: old.pageSize) != wanted { expectedChanges += 1 }
        }
        // By hand: the 64 pages of [0xC0000, 0x100000) go UC -> WT, the page
        // at 0x9F000 and the MMIO hole (256 2 MiB leaves up to 1 GiB, three
        // 1 GiB leaves) UC -> WB; the VGA window stays UC (WC has no entry),
        // RAM stays WB.
        #expect(changed == expectedChanges && changed == 64 + 1 + 256 + 3)
        #expect(after[0xA_0000].map { NPTEntry.hostPAT[$0.entry.patIndex(size: $0.pageSize)] } == .uncacheable)
        #expect(after[0xC_0000].map { NPTEntry.hostPAT[$0.entry.patIndex(size: $0.pageSize)] } == .writeThrough)
        // Unmapped stays unmapped.
        #expect(NPTWalker(memory: memory, nestedCR3: root).translate(Fixtures.hiddenRegion.start).mapping == nil)
        // Again with the same types: nothing to do.
        #expect(NPTMemoryTypes.retype(root, in: &memory, typeOf: Self.guestMTRRs) == 0)
    }
}
