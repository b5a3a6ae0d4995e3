@testable import EPT
import Primitives
import Testing

/// The guest's MTRRs reach the hardware through the EPT leaves' memory
/// types: `EPTMemoryTypes.retype` rewrites exactly those bits.
@Suite struct EPTMemoryTypesTests {
    static func build() throws -> (FakePhysicalMemory, EPTPointer) {
        let (memory, pointer, _) = try Fixtures.bochsEPT()
        return (memory, pointer)
    }

    @Test func retypesEveryLeafAndNothingElse() throws {
        var (memory, pointer) = try Self.build()
        var before: [UInt64: EPTEntry] = [:]
        EPTWalker(memory: memory, pointer: pointer).forEachLeaf { before[$0.guestPhysicalAddress] = $0.entry }

        // A guest that marks [0xA0000, 0xC0000) write-combining, the rest WB.
        let changed = EPTMemoryTypes.retype(pointer, in: &memory) { start, size in
            start >= 0xA_0000 && start + size <= 0xC_0000 ? .writeCombining : .writeBack
        }
        var after: [UInt64: EPTEntry] = [:]
        EPTWalker(memory: memory, pointer: pointer).forEachLeaf { after[$0.guestPhysicalAddress] = $0.entry }
        #expect(Set(after.keys) == Set(before.keys))
        var expectedChanges = 0
        for (address, old) in before {
            let new = try #require(after[address])
            let wanted: EPTMemoryType = address >= 0xA_0000 && address < 0xC_0000 ? .writeCombining : .writeBack
            #expect(new.memoryType == wanted, "GPA \(address)")
            #expect(new.permissions == old.permissions && new.physicalAddress == old.physicalAddress
                    && new.ignoresPAT == old.ignoresPAT)
            if old.memoryType != wanted { expectedChanges += 1 }
        }
        #expect(changed == expectedChanges && changed > 0)
        // Unmapped stays unmapped.
        #expect(EPTWalker(memory: memory, pointer: pointer).translate(Fixtures.hiddenRegion.start).mapping == nil)
        // Again with the same types: nothing to do.
        #expect(EPTMemoryTypes.retype(pointer, in: &memory) { start, size in
            start >= 0xA_0000 && start + size <= 0xC_0000 ? .writeCombining : .writeBack
        } == 0)
    }
}
