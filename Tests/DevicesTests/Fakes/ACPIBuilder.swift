import Devices

/// Builds synthetic ACPI structures with correct checksums, so that each
/// test can break exactly one thing.
enum ACPIBuilder {
    static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    /// Sets `bytes[checksumOffset]` so that `bytes[range]` sums to 0.
    static func fixChecksum(_ bytes: inout [UInt8], at checksumOffset: Int, over range: Range<Int>) {
        bytes[checksumOffset] = 0
        let sum = bytes[range].reduce(UInt8(0), &+)
        bytes[checksumOffset] = 0 &- sum
    }

    /// A table: 36-byte header (signature, length, revision, checksum,
    /// OEM fields) followed by `body`.
    static func table(_ signature: String, revision: UInt8 = 1, body: [UInt8]) -> [UInt8] {
        var bytes = ascii(signature) + le(UInt32(36 + body.count)) + [revision, 0]
        bytes += ascii("PXHVTS") + ascii("PXHVTEST") + le(UInt32(1)) + ascii("PXHV") + le(UInt32(1))
        bytes += body
        fixChecksum(&bytes, at: 9, over: 0..<bytes.count)
        return bytes
    }

    /// An RSDP: 20 bytes for revision 0, 36 for revision 2.
    static func rsdp(revision: UInt8, rsdt: UInt32, xsdt: UInt64 = 0) -> [UInt8] {
        var bytes = ascii("RSD PTR ") + [0] + ascii("PXHVTS") + [revision] + le(rsdt)
        if revision >= 2 { bytes += le(UInt32(36)) + le(xsdt) + [0, 0, 0, 0] }
        fixChecksum(&bytes, at: 8, over: 0..<20)
        if revision >= 2 { fixChecksum(&bytes, at: 32, over: 0..<36) }
        return bytes
    }

    static func rsdt(entries: [UInt32]) -> [UInt8] {
        table("RSDT", body: entries.flatMap { le($0) })
    }

    static func xsdt(entries: [UInt64]) -> [UInt8] {
        table("XSDT", body: entries.flatMap { le($0) })
    }

    static func gas(space: UInt8, bitWidth: UInt8 = 16, address: UInt64) -> [UInt8] {
        [space, bitWidth, 0, 2] + le(address)
    }

    /// A FADT of `length` bytes (116 = ACPI 1.0, 244 = ACPI 2.0+) with the
    /// given fields at their offsets, the rest 0.
    static func fadt(length: Int = 116, dsdt: UInt32, pm1a: UInt32, pm1b: UInt32 = 0,
                     xDSDT: UInt64 = 0, xPM1a: [UInt8]? = nil, xPM1b: [UInt8]? = nil,
                     revision: UInt8 = 1, pm1aEvent: UInt32 = 0, xPM1aEvent: [UInt8]? = nil,
                     reset: [UInt8]? = nil, resetValue: UInt8 = 0) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: length - 36)
        func put(_ bytes: [UInt8], at offset: Int) {
            guard offset + bytes.count <= length else { return }
            body.replaceSubrange((offset - 36)..<(offset - 36 + bytes.count), with: bytes)
        }
        put(le(dsdt), at: 40)
        put(le(pm1a), at: 64)
        put(le(pm1b), at: 68)
        put([2], at: 89)  // PM1_CNT_LEN
        put(le(xDSDT), at: 140)
        put(le(pm1aEvent), at: 56)
        put([4], at: 88)  // PM1_EVT_LEN
        if let reset { put(reset, at: 116); put([resetValue], at: 128) }
        if let xPM1aEvent { put(xPM1aEvent, at: 148) }
        if let xPM1a { put(xPM1a, at: 172) }
        if let xPM1b { put(xPM1b, at: 184) }
        return table("FACP", revision: revision, body: body)
    }

    /// `Name (_S5_, Package (4) { a, b, 0, 0 })` with each element encoded
    /// as given (e.g. `[0x0A, 0x05]` BytePrefix 5, `[0x00]` ZeroOp).
    static func s5Package(_ a: [UInt8], _ b: [UInt8], root: Bool = false) -> [UInt8] {
        let elements = a + b + [0x00, 0x00]
        let packageBody = [UInt8(4)] + elements
        let pkgLength = UInt8(1 + packageBody.count)  // one-byte PkgLength
        return [0x08] + (root ? [0x5C] : []) + ascii("_S5_") + [0x12, pkgLength] + packageBody
    }

    /// A DSDT whose AML is `prefix` (other definitions) then `aml`.
    static func dsdt(aml: [UInt8], prefix: [UInt8] = s3Package) -> [UInt8] {
        table("DSDT", revision: 1, body: prefix + aml)
    }

    /// `Name (_S3_, Package (4) { 1, 1, 0, 0 })`: a neighbour that must not
    /// be mistaken for `_S5_`.
    static let s3Package: [UInt8] = [0x08] + ascii("_S3_") + [0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00]
}

/// A machine image: BDA, RSDP, root table, FADT and DSDT at fixed
/// addresses, each part replaceable.
struct SyntheticMachine {
    static let ebdaSegment: UInt16 = 0x9FC0
    static let ebdaBase: UInt64 = 0x9FC00
    static let rsdpAddress: UInt64 = 0xF0000
    static let rsdtAddress: UInt64 = 0x7FE_0000
    static let xsdtAddress: UInt64 = 0x7FE_0100
    static let apicAddress: UInt64 = 0x7FE_0200
    static let fadtAddress: UInt64 = 0x7FE_1000
    static let dsdtAddress: UInt64 = 0x7FE_2000

    var memory = SparseMemory()

    /// ACPI 1.0: RSDP rev 0 -> RSDT {APIC, FACP} -> FADT (116 bytes,
    /// PM1a 0x604) -> DSDT with `_S3_` then `_S5_ {5, 5, 0, 0}`.
    static func acpi1() -> SyntheticMachine {
        var machine = SyntheticMachine()
        machine.memory.store(ebdaSegment, at: 0x40E)
        machine.put(ACPIBuilder.rsdp(revision: 0, rsdt: UInt32(rsdtAddress)), at: rsdpAddress)
        machine.put(ACPIBuilder.rsdt(entries: [UInt32(apicAddress), UInt32(fadtAddress)]), at: rsdtAddress)
        machine.put(ACPIBuilder.table("APIC", body: [0, 0, 0xE0, 0xFE, 1, 0, 0, 0]), at: apicAddress)
        machine.put(ACPIBuilder.fadt(dsdt: UInt32(dsdtAddress), pm1a: 0x604), at: fadtAddress)
        machine.put(ACPIBuilder.dsdt(aml: ACPIBuilder.s5Package([0x0A, 0x05], [0x0A, 0x05])), at: dsdtAddress)
        return machine
    }

    mutating func put(_ bytes: [UInt8], at address: UInt64) {
        memory.write(bytes, at: address)
    }

    mutating func flipByte(at address: UInt64) {
        memory.store(memory.load(UInt8.self, at: address) ^ 0x01, at: address)
    }
}

extension ACPIBuilder {
    /// Processor Local APIC (type 0): UID, APIC ID, flags (bit 0 enabled,
    /// bit 1 online capable).
    static func localAPIC(uid: UInt8, apicID: UInt8, flags: UInt32 = 1) -> [UInt8] {
        [0, 8, uid, apicID] + le(flags)
    }

    /// Processor Local x2APIC (type 9).
    static func localX2APIC(apicID: UInt32, uid: UInt32, flags: UInt32 = 1) -> [UInt8] {
        [9, 16, 0, 0] + le(apicID) + le(flags) + le(uid)
    }

    /// I/O APIC (type 1): ID, address, GSI base.
    static func ioAPIC(id: UInt8, address: UInt32 = 0xFEC0_0000, gsiBase: UInt32 = 0) -> [UInt8] {
        [1, 12, id, 0] + le(address) + le(gsiBase)
    }

    /// Interrupt Source Override (type 2): ISA IRQ -> GSI.
    static func sourceOverride(irq: UInt8, gsi: UInt32, flags: UInt16 = 0) -> [UInt8] {
        [2, 10, 0, irq] + le(gsi) + le(flags)
    }

    /// Local APIC NMI (type 4) for all processors, LINT1.
    static let localAPICNMI: [UInt8] = [4, 6, 0xFF, 0, 0, 1]

    /// An MADT: local APIC at `localAPIC`, PCAT_COMPAT, then `entries`.
    static func madt(localAPIC: UInt32 = 0xFEE0_0000, entries: [[UInt8]], revision: UInt8 = 3) -> [UInt8] {
        table("APIC", revision: revision, body: le(localAPIC) + le(UInt32(1)) + entries.flatMap { $0 })
    }
}

extension SyntheticMachine {
    static let madtAddress: UInt64 = 0x7FE_3000

    /// ACPI 2.0: RSDP rev 2 -> XSDT and RSDT {FACP, APIC} -> the MADT
    /// `madt` (FADT and DSDT as in `acpi1`).
    static func acpi2(madt: [UInt8]) -> SyntheticMachine {
        var machine = acpi1()
        machine.put(ACPIBuilder.rsdp(revision: 2, rsdt: UInt32(rsdtAddress), xsdt: xsdtAddress), at: rsdpAddress)
        machine.put(ACPIBuilder.rsdt(entries: [UInt32(fadtAddress), UInt32(madtAddress)]), at: rsdtAddress)
        machine.put(ACPIBuilder.xsdt(entries: [fadtAddress, madtAddress]), at: xsdtAddress)
        machine.put(madt, at: madtAddress)
        return machine
    }
}
