import EPT

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

    public init(chunks: [Chunk] = []) { self.chunks = chunks }

    public mutating func place(_ bytes: [UInt8], at address: UInt64) {
        chunks.append(Chunk(address: address, bytes: bytes))
    }

    func byte(at address: UInt64) -> UInt8 {
        // Later chunks cover earlier ones.
        for chunk in chunks.reversed() {
            let offset = address &- chunk.address
            if offset < UInt64(chunk.bytes.count) { return chunk.bytes[Int(offset)] }
        }
        return 0
    }

    public func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        let size = UInt64(MemoryLayout<T>.size)
        for chunk in chunks.reversed() {
            let offset = address &- chunk.address
            if offset < UInt64(chunk.bytes.count) {
                guard offset + size <= UInt64(chunk.bytes.count) else { break }
                return chunk.bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: Int(offset), as: T.self)) }
            }
        }
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size {
            value |= T(truncatingIfNeeded: byte(at: address &+ UInt64(index))) << (8 * index)
        }
        return value
    }

    public mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        for index in 0..<MemoryLayout<T>.size {
            let at = address &+ UInt64(index)
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
