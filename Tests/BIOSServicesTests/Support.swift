import BIOSServices
import Primitives
import Testing

/// Flat guest memory: the first 1 MiB + 64 KiB, byte by byte; `hole` is
/// not RAM (as the hypervisor's memory or MMIO would be for a guest).
struct FlatMemory: BIOSMemory {
    var bytes = [UInt8](repeating: 0, count: 0x11_0000)
    var hole: Range<UInt64>? = nil

    func isAccessible(at address: UInt64, count: UInt64) -> Bool {
        guard count > 0, address <= UInt64.max - count, address + count <= UInt64(bytes.count) else { return false }
        if let hole, address < hole.upperBound, address + count > hole.lowerBound { return false }
        return true
    }

    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size {
            value |= T(truncatingIfNeeded: bytes[Int(address) + i]) << (8 * i)
        }
        return value
    }

    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        for i in 0..<MemoryLayout<T>.size {
            bytes[Int(address) + i] = UInt8(truncatingIfNeeded: value >> (8 * i))
        }
    }
}

/// The byte at `offset` of sector `lba` in a synthetic disk: differs
/// between neighbouring sectors and within a sector.
func pattern(lba: Int, offset: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: lba &* 31 &+ offset &+ (lba >> 8))
}

/// A disk image of `size` bytes filled with `pattern`, released after `body`.
/// `only`: the sectors to fill (the rest zero), for large disks.
func withDisk<R>(size: Int, only: Range<Int>? = nil, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let image = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    defer { image.deallocate() }
    image.initializeMemory(as: UInt8.self, repeating: 0)
    let sectors = only ?? 0..<size / 512
    for i in sectors.lowerBound * 512..<sectors.upperBound * 512 {
        image[i] = pattern(lba: i / 512, offset: i % 512)
    }
    return try body(image)
}

/// Whether guest memory at `address` holds sector `lba` of the pattern.
func memoryHoldsSector(_ memory: FlatMemory, at address: Int, lba: Int) -> Bool {
    (0..<512).allSatisfy { memory.bytes[address + $0] == pattern(lba: lba, offset: $0) }
}

extension Message {
    var text: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}

/// Registers for a CHS call.
func chsRegisters(function: UInt8, count: UInt8, cylinder: Int, head: UInt8, sector: Int, drive: UInt8, es: UInt16 = 0x1000, bx: UInt16 = 0) -> BIOSRegisters {
    var r = BIOSRegisters()
    r.ah = function
    r.al = count
    r.ch = UInt8(cylinder & 0xFF)
    r.cl = UInt8((cylinder >> 2) & 0xC0) | UInt8(sector)
    r.dh = head
    r.dl = drive
    r.es = es
    r.bx = bx
    return r
}

let floppyTable = FarPointer(segment: 0xF000, offset: 0xEFC7)

func makeService() -> INT13Service {
    INT13Service(floppyCount: 2, hardDiskCount: 1, disketteParameterTable: floppyTable)
}

extension FlatMemory: CustomTestStringConvertible {
    // A failed expectation names the memory, not its 1 MiB of bytes.
    var testDescription: String { "FlatMemory" }
}

extension FlatMemory {
    /// Whether `range` (every byte when nil) is all zero.
    func isZero(_ range: Range<Int>? = nil) -> Bool {
        bytes[range ?? bytes.indices].allSatisfy { $0 == 0 }
    }
}
