@testable import EPT
import Primitives
import Testing

@Suite struct EPTEntryTests {
    @Test func bitFieldSubscript() {
        var entry = EPTEntry(rawValue: 0)
        entry[bits: 3...5] = 6
        #expect(entry.rawValue == 0x30)
        entry[bit: 63] = true
        #expect(entry.rawValue == 0x8000_0000_0000_0030)
        #expect(entry[bits: 0...63] == entry.rawValue)
        entry[bits: 3...5] = 0
        #expect(entry.rawValue == 0x8000_0000_0000_0000)
    }

    @Test func twoMiBWriteBackLeaf() {
        let leaf = EPTEntry.leaf(mapping: 0x4020_0000, size: .size2MiB, permissions: .all, memoryType: .writeBack)
        // R|W|X = 7, WB (6) in bits 5:3 = 0x30, bit 7 = 0x80.
        #expect(leaf.rawValue == 0x4020_00B7)
        #expect(leaf.isLeaf(at: .pageDirectory))
        #expect(leaf.physicalAddress == 0x4020_0000)
        #expect(leaf.memoryType == .writeBack)
        #expect(!leaf.ignoresPAT && !leaf.isAccessed && !leaf.isDirty && !leaf.isUserExecutable)
    }

    @Test func fourKiBLeafHasNoLargePageBit() {
        let leaf = EPTEntry.leaf(
            mapping: 0xF_FFFF_F000, size: .size4KiB, permissions: .readWrite, memoryType: .uncacheable, ignoresPAT: true)
        #expect(leaf.rawValue == 0xF_FFFF_F043)
        #expect(leaf.isLeaf(at: .pageTable))
        #expect(leaf.ignoresPAT)
    }

    @Test func tableReference() {
        let table = EPTEntry.table(at: 0x12_3456_7000)
        #expect(table.rawValue == 0x12_3456_7007)
        #expect(!table.isLeaf(at: .pml4) && !table.isLeaf(at: .pageDirectory))
    }

    @Test func accessedDirtyAndUserExecuteBits() {
        var entry = EPTEntry(rawValue: 0)
        entry.isAccessed = true
        entry.isDirty = true
        entry.isUserExecutable = true
        #expect(entry.rawValue == 0x700)
        #expect(!entry.isPresent)  // bit 10 alone: present only with mode-based execute control
    }

    @Test func levelIndices() {
        let address: UInt64 = 0x0000_7FBF_9FCF_F123
        #expect(EPTLevel.pml4.index(of: address) == 0xFF)
        #expect(EPTLevel.pageDirectoryPointerTable.index(of: address) == 0xFE)
        #expect(EPTLevel.pageDirectory.index(of: address) == 0xFE)
        #expect(EPTLevel.pageTable.index(of: address) == 0xFF)
        #expect(EPTLevel.pageDirectoryPointerTable.entrySpan == 0x4000_0000)
        #expect(EPTPageSize.allCases.allSatisfy { $0.level.leafSize == $0 })
    }

    @Test func memoryTypesAndPermissions() {
        #expect([0, 1, 4, 5, 6].allSatisfy { EPTMemoryType(rawValue: $0).isValid })
        #expect([2, 3, 7, 8].allSatisfy { !EPTMemoryType(rawValue: $0).isValid })
        #expect(!EPTPermissions.write.isValid)
        #expect(EPTPermissions.execute.isValid)
        #expect(EPTPermissions.readWrite.isValid)
    }

    @Test func eptPointer() {
        let pointer = EPTPointer(pml4Address: 0x1234_5000)
        // WB (6) | (4 - 1) << 3.
        #expect(pointer.rawValue == 0x1234_501E)
        #expect(pointer.pageWalkLength == 4)
        #expect(pointer.memoryType == .writeBack)
        let withAD = EPTPointer(pml4Address: 0x1000, memoryType: .uncacheable, accessedDirtyEnabled: true)
        #expect(withAD.rawValue == 0x1058)
        #expect(withAD.isAccessedDirtyEnabled)
        #expect(EPTPointer(rawValue: 0x1234_501E).pml4Address == 0x1234_5000)
    }
}

@Suite struct EPTViolationTests {
    @Test func readOfAnUnmappedAddressThroughALinearAccess() {
        // 0x181: data read, nothing allowed, linear address valid, access to
        // the translation (the usual qualification for a hidden page).
        let violation = EPTViolation(rawValue: 0x181)
        #expect(violation.isRead && !violation.isWrite && !violation.isInstructionFetch)
        #expect(violation.isNotPresent)
        #expect(violation.linearAccess == .translatedAddress)
        #expect(!violation.isNMIUnblockingDueToIRET)
    }

    @Test func writeToAReadOnlyPageDuringTheGuestPageWalk() {
        // Write, entry R|X, linear valid, paging-structure access, NMI unblocking.
        let violation = EPTViolation(rawValue: 0x1000 | 0x80 | 0x28 | 0x2)
        #expect(violation.access == .write)
        #expect(violation.entryPermissions == [.read, .execute])
        #expect(!violation.isNotPresent)
        #expect(violation.linearAccess == .pagingStructureEntry)
        #expect(violation.isNMIUnblockingDueToIRET)
    }

    @Test func fetchWithoutLinearAddress() {
        let violation = EPTViolation(rawValue: 0x4 | 0x40 | 0x100)
        #expect(violation.isInstructionFetch)
        #expect(violation.isUserModeExecutable)
        #expect(violation.linearAccess == nil)  // bit 8 means nothing without bit 7
    }
}
