import Primitives

/// A validated ACPI table: where it is and what its header says.
///
/// ACPI 6.5, "System Description Table Header" (5.2.6)
public struct SystemDescriptionTable: Hashable, Sendable {
    public var address: UInt64
    public var signature: ACPISignature
    /// Length of the whole table in bytes, header included.
    public var length: UInt32
    public var revision: UInt8

    /// Signature (4), Length (4), Revision (1), Checksum (1), OEMID (6),
    /// OEM Table ID (8), OEM Revision (4), Creator ID (4), Creator Revision (4).
    public static let headerLength: UInt32 = 36
    /// Above this a Length is taken as garbage rather than walked (real DSDTs
    /// are tens to hundreds of KiB).
    public static let maximumLength: UInt32 = 16 << 20
    /// No physical address reaches 2^52 (MAXPHYADDR is at most 52). Table
    /// pointers from 64-bit fields (XSDT entries, X_DSDT) can hold any
    /// value; one whose table could end beyond this is garbage.
    public static let physicalAddressLimit: UInt64 = 1 << 52

    enum Offset {
        static let signature: UInt64 = 0
        static let length: UInt64 = 4
        static let revision: UInt64 = 8
        static let checksum: UInt64 = 9
    }

    /// Reads the header at `address` and checks signature, length and
    /// checksum (all `length` bytes sum to 0 modulo 256).
    public static func validate<M: PhysicalMemory>(
        at address: UInt64, expecting expected: ACPISignature, in memory: M
    ) throws(ACPIError) -> Self {
        guard address <= physicalAddressLimit - UInt64(maximumLength) else {
            throw .badAddress(signature: expected, address: address)
        }
        let found = ACPISignature(rawValue: memory.load(UInt32.self, at: address + Offset.signature))
        guard found == expected else {
            throw .badSignature(expected: expected, found: found, address: address)
        }
        let length = memory.load(UInt32.self, at: address + Offset.length)
        guard length >= headerLength, length <= maximumLength else {
            throw .badLength(signature: expected, address: address, length: length)
        }
        guard byteSum(memory, at: address, count: UInt64(length)) == 0 else {
            throw .badChecksum(signature: expected, address: address)
        }
        return Self(address: address, signature: expected, length: length,
                    revision: memory.load(UInt8.self, at: address + Offset.revision))
    }

    /// The address of the first byte after the header.
    public var bodyAddress: UInt64 { address + UInt64(Self.headerLength) }
    /// The address one past the table's last byte.
    public var endAddress: UInt64 { address + UInt64(length) }
}

/// The root of the table tree: the RSDT (32-bit entries) or the XSDT
/// (64-bit entries), each entry the physical address of another table.
///
/// ACPI 6.5, "Root System Description Table (RSDT)" (5.2.7) and
/// "Extended System Description Table (XSDT)" (5.2.8)
public struct RootTable: Hashable, Sendable {
    public var table: SystemDescriptionTable
    /// 4 for the RSDT, 8 for the XSDT.
    public var entrySize: UInt64

    public init(table: SystemDescriptionTable) {
        self.table = table
        self.entrySize = table.signature == .xsdt ? 8 : 4
    }

    public var entryCount: Int {
        Int((UInt64(table.length) - UInt64(SystemDescriptionTable.headerLength)) / entrySize)
    }

    public func entry<M: PhysicalMemory>(_ index: Int, in memory: M) -> UInt64 {
        let at = table.bodyAddress + UInt64(index) * entrySize
        return entrySize == 8 ? memory.load(UInt64.self, at: at) : UInt64(memory.load(UInt32.self, at: at))
    }

    /// The address of the first listed table whose signature is `signature`
    /// (only the signature is read; the caller validates the table).
    public func find<M: PhysicalMemory>(_ signature: ACPISignature, in memory: M) -> UInt64? {
        for index in 0..<entryCount {
            let address = entry(index, in: memory)
            if address != 0, memory.load(UInt32.self, at: address) == signature.rawValue {
                return address
            }
        }
        return nil
    }
}

/// The 8-bit sum of `count` bytes from `address`; ACPI structures are valid
/// when it is 0.
func byteSum<M: PhysicalMemory>(_ memory: M, at address: UInt64, count: UInt64) -> UInt8 {
    var sum: UInt8 = 0
    var offset: UInt64 = 0
    while offset < count {
        sum &+= memory.load(UInt8.self, at: address + offset)
        offset += 1
    }
    return sum
}
