import Testing
@testable import Primitives

struct Slot: BoundedArrayElement, Equatable {
    var value: UInt64
    static var placeholder: Slot { Slot(value: 0) }
}

@Suite("BoundedArray read in place")
struct BoundedArrayTests {
    @Test func storageIsAtOffsetZero() {
        #expect(MemoryLayout<BoundedArray<16, Slot>>.offset(of: \BoundedArray<16, Slot>.storage) == 0)
    }

    @Test func elementsAtAPointerAreTheElements() throws {
        var array = BoundedArray<16, Slot>()
        for value: UInt64 in [7, 11, 13] { try array.append(Slot(value: value)) }
        let read = withUnsafePointer(to: array) { pointer in
            BoundedArray<16, Slot>.withElements(at: pointer) { Array($0) }
        }
        #expect(read == [Slot(value: 7), Slot(value: 11), Slot(value: 13)])
    }
}
