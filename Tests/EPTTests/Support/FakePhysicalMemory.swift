import Primitives

@testable import EPT

/// Physical memory as a sparse set of 4 KiB byte pages, so tests can use
/// addresses anywhere in the 52-bit space. Unwritten bytes read as zero.
/// A class, so the builder, the walker and the test share one memory.
final class FakePhysicalMemory: PhysicalMemory {
    private(set) var pages: [UInt64: [UInt8]] = [:]

    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        let size = MemoryLayout<T>.size
        guard (address & 0xFFF) + UInt64(size) <= 0x1000 else {
            // Straddles two pages: byte by byte.
            var value: T = 0
            for index in 0..<size { value |= T(load(UInt8.self, at: address + UInt64(index))) << (8 * index) }
            return value
        }
        guard let page = pages[address >> 12] else { return 0 }
        let offset = Int(address & 0xFFF)
        var value: T = 0
        for index in 0..<size { value |= T(truncatingIfNeeded: page[offset + index]) << (8 * index) }
        return value
    }

    func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        let size = MemoryLayout<T>.size
        guard (address & 0xFFF) + UInt64(size) <= 0x1000 else {
            for index in 0..<size { store(UInt8(truncatingIfNeeded: value >> (8 * index)), at: address + UInt64(index)) }
            return
        }
        let offset = Int(address & 0xFFF)
        pages[address >> 12, default: [UInt8](repeating: 0, count: 0x1000)].withUnsafeMutableBufferPointer { bytes in
            for index in 0..<size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
        }
    }
}

/// Hands out consecutive frames from `next` up to `limit`.
struct BumpPageSource: PageSource {
    var next: UInt64
    var limit: UInt64 = .max
    private(set) var handedOut: [UInt64] = []

    init(next: UInt64, limit: UInt64 = .max) {
        self.next = next
        self.limit = limit
    }

    mutating func allocatePage() -> UInt64? {
        guard next < limit else { return nil }
        defer { next += 0x1000 }
        handedOut.append(next)
        return next
    }
}
