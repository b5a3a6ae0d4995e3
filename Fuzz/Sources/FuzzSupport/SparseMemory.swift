import EPT
import Primitives

/// Physical memory made of a few byte chunks at arbitrary 64-bit addresses;
/// every other byte reads as 0 and stores outside the chunks are dropped.
/// Address arithmetic wraps, so an overflow is the library's, never ours.
public struct SparseMemory: PhysicalMemory {
    public struct Chunk {
        public var address: UInt64
        public var bytes: [UInt8]
        public init(address: UInt64, bytes: [UInt8]) {
            self.address = address
            self.bytes = bytes
        }
    }

    public var chunks: [Chunk]
    /// Address bits the memory decodes: with `0xFFFF_FFFF` every 4 GiB
    /// aliases the first (so a 64-bit pointer with any high bits reaches
    /// a chunk, as on a machine that ignores them).
    public var addressMask: UInt64

    public init(chunks: [Chunk] = [], addressMask: UInt64 = .max) {
        self.chunks = chunks
        self.addressMask = addressMask
    }

    public mutating func place(_ bytes: [UInt8], at address: UInt64) {
        chunks.append(Chunk(address: address, bytes: bytes))
    }

    func byte(at address: UInt64) -> UInt8 {
        let address = address & addressMask
        // Later chunks cover earlier ones.
        var c = chunks.count
        while c > 0 {
            c -= 1
            let offset = address &- chunks[c].address
            if offset < UInt64(chunks[c].bytes.count) { return chunks[c].bytes[Int(offset)] }
        }
        return 0
    }

    /// `size` (<= 8) bytes at `address`, little-endian. Concrete code: the
    /// libraries call `load` unspecialized (across modules), so the generic
    /// part is one conversion.
    func word(at address: UInt64, size: Int) -> UInt64 {
        let address = address & addressMask
        var c = chunks.count
        while c > 0 {
            c -= 1
            let offset = address &- chunks[c].address
            let count = UInt64(chunks[c].bytes.count)
            if offset < count {
                // Across a chunk's end or the aliasing boundary: byte by byte.
                guard offset + UInt64(size) <= count, address <= addressMask - UInt64(size - 1) else { break }
                var value: UInt64 = 0
                let start = Int(offset)
                for index in 0..<size { value |= UInt64(chunks[c].bytes[start + index]) << (8 * index) }
                return value
            }
        }
        var value: UInt64 = 0
        for index in 0..<size { value |= UInt64(byte(at: address &+ UInt64(index))) << (8 * index) }
        return value
    }

    public func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        T(truncatingIfNeeded: word(at: address, size: min(MemoryLayout<T>.size, 8)))
    }

    public mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        for index in 0..<MemoryLayout<T>.size {
            let at = (address &+ UInt64(index)) & addressMask
            for c in chunks.indices.reversed() {
                let offset = at &- chunks[c].address
                if offset < UInt64(chunks[c].bytes.count) {
                    chunks[c].bytes[Int(offset)] = UInt8(truncatingIfNeeded: value >> (8 * index))
                    break
                }
            }
        }
    }
}

/// Stops the fuzzer with a message when a library broke its own promise
/// (a crash libFuzzer records like any trap).
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("fuzz invariant: \(message())", file: file, line: line) }
}
