extension PhysicalMemory {
    /// Copies `bytes` to guest-physical `address`, eight bytes per store
    /// where it can (a 8 MiB kernel is 1 M stores, not 8 M): the default
    /// `PhysicalMemory.storeBytes`.
    public mutating func storeBytes(_ bytes: UnsafeRawBufferPointer, at address: UInt64) {
        var offset = 0
        while offset + 8 <= bytes.count {
            store(bytes.loadLE(UInt64.self, at: offset), at: address + UInt64(offset))
            offset += 8
        }
        while offset < bytes.count {
            store(bytes[offset], at: address + UInt64(offset))
            offset += 1
        }
    }

    /// Writes `count` zero bytes from `address`.
    public mutating func storeZeros(count: UInt64, at address: UInt64) {
        var offset: UInt64 = 0
        while offset + 8 <= count {
            store(UInt64(0), at: address + offset)
            offset += 8
        }
        while offset < count {
            store(UInt8(0), at: address + offset)
            offset += 1
        }
    }
}

extension UnsafeRawBufferPointer {
    /// A little-endian integer at `offset` (no alignment needed).
    @inlinable @inline(__always)
    public func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
