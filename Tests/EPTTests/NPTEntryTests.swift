@testable import EPT
import Primitives
import Testing

/// Every bit of a nested entry, against the long-mode entry format of the
/// AMD APM Vol. 2 ("Page-Translation-Table Entry Fields", 5.4 in rev. 3.42):
/// P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6 (leaves), PS 7 (PDPE/PDE) or
/// PAT 7 (PTE), G 8, AVL 11:9, PAT 12 (large leaves), address 51:12, NX 63.
/// The expected values are written from that table by hand.
@Suite struct NPTEntryTests {
    @Test func tableReferenceGrantsEverythingAndIsUser() {
        let table = NPTEntry.table(at: 0x12_3456_7000)
        // P | R/W | U/S | A = 0x1 | 0x2 | 0x4 | 0x20.
        #expect(table.rawValue == 0x12_3456_7027)
        #expect(table.isPresent && table.isWritable && table.isUser && table.isAccessed && table.isExecutable)
        #expect(!table.isWriteThrough && !table.isCacheDisabled, "tables are read write-back (PAT index 0)")
        #expect(!table.isDirty && !table.isLargePage && !table.isGlobal)
        #expect(table[bits: 9...11] == 0 && table[bits: 52...62] == 0 && !table[bit: 63])
        #expect(!table.isLeaf(at: .pml4) && !table.isLeaf(at: .pageDirectoryPointerTable) && !table.isLeaf(at: .pageDirectory))
        #expect(table.address(at: .pageDirectory) == 0x12_3456_7000)
        #expect(!EPTLevel.allCases.contains { table.isMalformed(at: $0) })
    }

    @Test func twoMiBWriteBackLeaf() {
        let leaf = NPTEntry.identityLeaf(0x4020_0000, size: .size2MiB, permissions: .all, memoryType: .writeBack)
        // P | R/W | U/S | A | D | PS = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80;
        // PWT, PCD and PAT (bit 12) clear: index 0, WB in the reset PAT.
        #expect(leaf.rawValue == 0x4020_00E7)
        #expect(leaf.isLeaf(at: .pageDirectory))
        #expect(leaf.patIndex(size: .size2MiB) == 0)
        #expect(leaf.permissions == .all)
        #expect(!leaf.isGlobal)
    }

    @Test func twoMiBUncacheableLeaf() {
        let leaf = NPTEntry.identityLeaf(0xFEE0_0000, size: .size2MiB, permissions: .all, memoryType: .uncacheable)
        // 0xE7 | PWT 0x8 | PCD 0x10: index 3, UC in the reset PAT.
        #expect(leaf.rawValue == 0xFEE0_00FF)
        #expect(leaf.patIndex(size: .size2MiB) == 3)
    }

    @Test func fourKiBUncacheableLeafHasNoPageSizeBit() {
        let leaf = NPTEntry.identityLeaf(0xF_FFFF_F000, size: .size4KiB, permissions: .all, memoryType: .uncacheable)
        // P | R/W | U/S | PWT | PCD | A | D = 0x7F; bit 7 (PAT in a PTE) clear.
        #expect(leaf.rawValue == 0xF_FFFF_F07F)
        #expect(leaf.isLeaf(at: .pageTable))
        #expect(leaf.address(at: .pageTable) == 0xF_FFFF_F000)
    }

    @Test func oneGiBLeaf() {
        let leaf = NPTEntry.identityLeaf(0x1_4000_0000, size: .size1GiB, permissions: .all, memoryType: .writeBack)
        #expect(leaf.rawValue == 0x1_4000_00E7)
        #expect(leaf.isLeaf(at: .pageDirectoryPointerTable))
        #expect(leaf.address(at: .pageDirectoryPointerTable) == 0x1_4000_0000)
    }

    /// PAT index bit 2 sits at bit 7 in a PTE and at bit 12 in a large leaf,
    /// where it must not be read as an address bit.
    @Test func patBitMovesWithThePageSize() {
        var small = NPTEntry.leaf(mapping: 0x5000, size: .size4KiB, permissions: .all, patIndex: 4)
        #expect(small.rawValue == 0x5000 | 0xE7)  // bit 7 set as PAT, not PS
        #expect(small.patIndex(size: .size4KiB) == 4)
        small.setPATIndex(7, size: .size4KiB)
        #expect(small.rawValue == 0x5000 | 0xFF)

        let large = NPTEntry.leaf(mapping: 0x20_0000, size: .size2MiB, permissions: .all, patIndex: 5)
        // PS 0x80, PAT 0x1000, PWT 0x8.
        #expect(large.rawValue == 0x20_0000 | 0x1000 | 0xEF)
        #expect(large.patIndex(size: .size2MiB) == 5)
        #expect(large.physicalAddress == 0x20_1000)
        #expect(large.address(at: .pageDirectory) == 0x20_0000)
        #expect(!large.isMalformed(at: .pageDirectory))
    }

    @Test func readOnlyAndNotExecutable() {
        let leaf = NPTEntry.identityLeaf(0x3000, size: .size4KiB, permissions: .read, memoryType: .writeBack)
        // P | U/S | A | D, R/W clear, NX (bit 63) set.
        #expect(leaf.rawValue == 0x8000_0000_0000_3065)
        #expect(leaf.permissions == .read)
        let readExecute = NPTEntry.identityLeaf(0x3000, size: .size4KiB, permissions: [.read, .execute], memoryType: .writeBack)
        #expect(readExecute.rawValue == 0x3065)
        #expect(NPTEntry(rawValue: 0x3066).permissions == [], "P clear: nothing")
    }

    @Test func reservedBits() {
        // PS in a PML4E.
        #expect(NPTEntry(rawValue: 0x1000_0027 | 0x80).isMalformed(at: .pml4))
        #expect(!NPTEntry(rawValue: 0x1000_0027).isMalformed(at: .pml4))
        // Address bits 20:13 of a 2 MiB leaf, 29:13 of a 1 GiB leaf.
        #expect(NPTEntry(rawValue: 0x20_0000 | 0x2000 | 0xE7).isMalformed(at: .pageDirectory))
        #expect(NPTEntry(rawValue: 0x4000_0000 | 0x2000_0000 | 0xE7).isMalformed(at: .pageDirectoryPointerTable))
        #expect(!NPTEntry(rawValue: 0x4000_0000 | 0x1000 | 0xE7).isMalformed(at: .pageDirectoryPointerTable))
        // The same bits in a table reference are address bits.
        #expect(!NPTEntry(rawValue: 0x20_2000 | 0x27).isMalformed(at: .pageDirectory))
    }

    @Test func resetPATAndTheIndicesNPTReliesOn() {
        let pat = PageAttributeTable.reset
        #expect(pat.rawValue == 0x0007_0406_0007_0406)
        let types = (0..<8).map { pat[$0].rawValue }
        #expect(types == [6, 4, 7, 0, 6, 4, 7, 0])  // WB WT UC- UC, twice
        #expect(pat.index(of: .writeBack) == 0)
        #expect(pat.index(of: .writeThrough) == 1)
        #expect(pat.index(of: .uncacheable) == 3)
        #expect(pat.index(of: .writeCombining) == nil && pat.index(of: .writeProtected) == nil)
        #expect(NPTEntry.hostPAT == pat)
    }

    @Test func nestedCR3() {
        let root = NestedCR3(pml4Address: 0x1234_5000)
        // CR3 format: address in 51:12, PWT (3) and PCD (4) clear: WB walks.
        #expect(root.rawValue == 0x1234_5000)
        #expect(root.patIndex == 0 && root.pml4Address == 0x1234_5000)
        let uncached = NestedCR3(pml4Address: 0x1234_5000, patIndex: 3)
        #expect(uncached.rawValue == 0x1234_5018)
        #expect(NestedCR3(pml4Address: 0x1000, patIndex: 2).rawValue == 0x1010)
        #expect(NestedCR3(rawValue: 0xF_FFFF_F018).pml4Address == 0xF_FFFF_F000)
        #expect(NestedCR3(rawValue: 0xF_FFFF_F008).patIndex == 1)
    }

    @Test func validation() {
        #expect(throws: NPTBuildError.invalidPermissions(.execute)) {
            try NPTEntry.validate(permissions: .execute, memoryType: .writeBack)
        }
        #expect(throws: NPTBuildError.invalidPermissions([])) {
            try NPTEntry.validate(permissions: [], memoryType: .writeBack)
        }
        #expect(throws: NPTBuildError.invalidMemoryType(.writeCombining)) {
            try NPTEntry.validate(permissions: .all, memoryType: .writeCombining)
        }
        // Write without read is an EPT misconfiguration, and in NPT not
        // expressible either (a present entry is readable).
        #expect(throws: NPTBuildError.invalidPermissions(.write)) {
            try NPTEntry.validate(permissions: .write, memoryType: .writeBack)
        }
    }
}
