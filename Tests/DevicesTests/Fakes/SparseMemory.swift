import EPT
import Foundation
import Primitives

/// Physical memory as a sparse byte store: unwritten bytes read 0.
struct SparseMemory: PhysicalMemory {
    private(set) var bytes: [UInt64: UInt8] = [:]

    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size {
            let byte = bytes[address + UInt64(index)] ?? 0
            value |= T(truncatingIfNeeded: byte) << (8 * index)
        }
        return value
    }

    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        for index in 0..<MemoryLayout<T>.size {
            bytes[address + UInt64(index)] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }

    mutating func write(_ data: [UInt8], at address: UInt64) {
        for (index, byte) in data.enumerated() {
            bytes[address + UInt64(index)] = byte
        }
    }

    /// Memory holding the captured regions, with the BDA's EBDA segment word
    /// at 0x40E set to 0x9FC0.
    init(captured regions: [Region]) {
        store(UInt16(0x9FC0), at: 0x40E)
        for region in regions {
            let data = Data(base64Encoded: region.base64, options: .ignoreUnknownCharacters)!
            write([UInt8](data), at: region.address)
        }
    }

    init() {}
}
