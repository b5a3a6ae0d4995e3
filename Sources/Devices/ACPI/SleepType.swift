import Primitives

/// The SLP_TYPa/SLP_TYPb pair of a sleep state, from the DSDT's `\_Sx`
/// package.
///
/// ACPI 6.5, "\_Sx (System States)" (7.4.2)
public struct SleepType: Hashable, Sendable {
    /// Value for PM1a_CNT.SLP_TYP.
    public var a: UInt8
    /// Value for PM1b_CNT.SLP_TYP.
    public var b: UInt8

    public init(a: UInt8, b: UInt8) {
        self.a = a
        self.b = b
    }

    /// "_S5_" as a little-endian `UInt32`.
    public static let s5Name: UInt32 = 0x5F35_535F

    /// AML opcodes used.
    ///
    /// ACPI 6.5, "AML Byte Stream Byte Values" (20.3)
    public enum AMLOpcode {
        public static let zero: UInt8 = 0x00
        public static let one: UInt8 = 0x01
        public static let name: UInt8 = 0x08
        public static let bytePrefix: UInt8 = 0x0A
        public static let wordPrefix: UInt8 = 0x0B
        public static let dwordPrefix: UInt8 = 0x0C
        public static let qwordPrefix: UInt8 = 0x0E
        public static let package: UInt8 = 0x12
        public static let rootPrefix: UInt8 = 0x5C
        public static let ones: UInt8 = 0xFF
    }

    /// Finds `Name (\_S5, Package (n) { a, b, ... })` in the DSDT's AML by
    /// pattern (no interpreter): the bytes "_S5_" preceded by NameOp (with
    /// or without the root prefix "\") and followed by PackageOp; then
    /// PkgLength, NumElements, and integer elements.
    ///
    /// With one element, SLP_TYPa is its low byte and SLP_TYPb the next
    /// (older firmware packs both into one integer; ACPICA reads it so).
    ///
    /// ACPI 6.5, "Package Length Encoding" (20.2.4), "Data Objects Encoding"
    /// (20.2.3), "Expression Opcodes Encoding" (20.2.5.4)
    public static func s5<M: PhysicalMemory>(inDSDT dsdt: SystemDescriptionTable, memory: M) throws(ACPIError) -> SleepType {
        let end = dsdt.endAddress
        var at = dsdt.bodyAddress
        while at + 5 <= end {
            defer { at += 1 }
            guard memory.load(UInt32.self, at: at) == s5Name else { continue }
            let before = at > dsdt.bodyAddress ? memory.load(UInt8.self, at: at - 1) : 0
            let isNameOp = before == AMLOpcode.name
                || (before == AMLOpcode.rootPrefix && at >= dsdt.bodyAddress + 2
                    && memory.load(UInt8.self, at: at - 2) == AMLOpcode.name)
            guard isNameOp, memory.load(UInt8.self, at: at + 4) == AMLOpcode.package else { continue }
            guard let values = decodePackage(at: at + 5, end: end, memory: memory) else {
                throw .malformedS5(address: at)
            }
            return values
        }
        throw .noS5(dsdtAddress: dsdt.address)
    }

    /// Decodes `PkgLength NumElements Integer Integer ...` at `start`.
    static func decodePackage<M: PhysicalMemory>(at start: UInt64, end: UInt64, memory: M) -> SleepType? {
        var at = start
        func byte() -> UInt8? {
            guard at < end else { return nil }
            defer { at += 1 }
            return memory.load(UInt8.self, at: at)
        }
        // PkgLength: bits 7:6 of the lead byte count the bytes that follow;
        // with none, bits 5:0 are the length, else bits 3:0 are its low nibble.
        guard let lead = byte() else { return nil }
        let followCount = Int(lead[bits: 6...7])
        var packageLength = UInt64(followCount == 0 ? lead[bits: 0...5] : lead[bits: 0...3])
        for index in 0..<followCount {
            guard let next = byte() else { return nil }
            packageLength |= UInt64(next) << UInt64(4 + 8 * index)
        }
        let packageEnd = start + packageLength
        guard packageEnd <= end, let count = byte(), count >= 1 else { return nil }

        func integer() -> UInt64? {
            guard at < packageEnd, let op = byte() else { return nil }
            func little(_ size: Int) -> UInt64? {
                var value: UInt64 = 0
                for index in 0..<size {
                    guard at < packageEnd, let next = byte() else { return nil }
                    value |= UInt64(next) << UInt64(8 * index)
                }
                return value
            }
            switch op {
            case AMLOpcode.zero: return 0
            case AMLOpcode.one: return 1
            case AMLOpcode.ones: return ~0
            case AMLOpcode.bytePrefix: return little(1)
            case AMLOpcode.wordPrefix: return little(2)
            case AMLOpcode.dwordPrefix: return little(4)
            case AMLOpcode.qwordPrefix: return little(8)
            default: return nil
            }
        }
        guard let first = integer() else { return nil }
        if count == 1 {
            return SleepType(a: UInt8(truncatingIfNeeded: first), b: UInt8(truncatingIfNeeded: first >> 8))
        }
        guard let second = integer() else { return nil }
        return SleepType(a: UInt8(truncatingIfNeeded: first), b: UInt8(truncatingIfNeeded: second))
    }
}
