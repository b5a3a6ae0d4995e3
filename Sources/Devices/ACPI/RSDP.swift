import Primitives

/// The Root System Description Pointer: where the RSDT/XSDT is.
///
/// ACPI 6.5, "Root System Description Pointer (RSDP) Structure" (5.2.5.3)
public struct RSDP: Hashable, Sendable {
    /// "RSD PTR " as a little-endian `UInt64`.
    public static let signature: UInt64 = 0x2052_5450_2044_5352
    /// Bytes covered by the ACPI 1.0 checksum.
    public static let checksummedLength: UInt32 = 20
    /// Length of the revision >= 2 structure.
    public static let extendedLength: UInt32 = 36

    public var address: UInt64
    /// 0 for ACPI 1.0 (RSDT only), 2 and up for ACPI 2.0+ (XSDT too).
    public var revision: UInt8
    public var rsdtAddress: UInt32
    /// 0 when `revision < 2`.
    public var xsdtAddress: UInt64

    enum Offset {
        static let checksum: UInt64 = 8
        static let revision: UInt64 = 15
        static let rsdtAddress: UInt64 = 16
        static let length: UInt64 = 20
        static let xsdtAddress: UInt64 = 24
        static let extendedChecksum: UInt64 = 32
    }

    /// The BDA word holding the EBDA's real-mode segment (40:0Eh).
    public static let ebdaSegmentPointer: UInt64 = 0x40E
    /// The BIOS read-only area searched after the EBDA.
    public static let biosArea: Range<UInt64> = 0xE0000..<0x100000

    /// Searches the first KiB of the EBDA, then 0xE0000-0xFFFFF, on 16-byte
    /// boundaries for "RSD PTR " with valid checksums. A candidate that fails
    /// its checksum does not stop the search; if no candidate is valid, the
    /// first failure is thrown, else `.rsdpNotFound`.
    ///
    /// ACPI 6.5, "Finding the RSDP on IA-PC Systems" (5.2.5.1)
    public static func locate<M: PhysicalMemory>(in memory: M) throws(ACPIError) -> RSDP {
        let ebdaBase = UInt64(memory.load(UInt16.self, at: ebdaSegmentPointer)) << 4
        var firstFailure: ACPIError? = nil
        func scan(_ area: Range<UInt64>) -> RSDP? {
            var address = area.lowerBound
            while address < area.upperBound {
                if memory.load(UInt64.self, at: address) == signature {
                    do {
                        return try validate(at: address, in: memory)
                    } catch {
                        if firstFailure == nil { firstFailure = error }
                    }
                }
                address += 16
            }
            return nil
        }
        if ebdaBase != 0, let rsdp = scan(ebdaBase..<(ebdaBase + 1024)) { return rsdp }
        if let rsdp = scan(biosArea) { return rsdp }
        throw firstFailure ?? .rsdpNotFound(ebdaBase: ebdaBase)
    }

    /// Checks the RSDP at `address` (checksum, and for revision >= 2 the
    /// length and the extended checksum) and reads it.
    public static func validate<M: PhysicalMemory>(at address: UInt64, in memory: M) throws(ACPIError) -> RSDP {
        guard byteSum(memory, at: address, count: UInt64(checksummedLength)) == 0 else {
            throw .rsdpBadChecksum(address: address)
        }
        let revision = memory.load(UInt8.self, at: address + Offset.revision)
        var xsdtAddress: UInt64 = 0
        if revision >= 2 {
            let length = memory.load(UInt32.self, at: address + Offset.length)
            guard length >= extendedLength, length <= 4096 else {
                throw .rsdpBadLength(address: address, length: length)
            }
            guard byteSum(memory, at: address, count: UInt64(length)) == 0 else {
                throw .rsdpBadExtendedChecksum(address: address)
            }
            xsdtAddress = memory.load(UInt64.self, at: address + Offset.xsdtAddress)
        }
        return RSDP(address: address, revision: revision,
                    rsdtAddress: memory.load(UInt32.self, at: address + Offset.rsdtAddress),
                    xsdtAddress: xsdtAddress)
    }

    /// The XSDT when `revision >= 2` and its address is nonzero, else the
    /// RSDT; validated.
    public func rootTable<M: PhysicalMemory>(in memory: M) throws(ACPIError) -> RootTable {
        if revision >= 2 && xsdtAddress != 0 {
            return RootTable(table: try .validate(at: xsdtAddress, expecting: .xsdt, in: memory))
        }
        return RootTable(table: try .validate(at: UInt64(rsdtAddress), expecting: .rsdt, in: memory))
    }
}
