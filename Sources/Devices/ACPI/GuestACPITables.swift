import Primitives

/// A copy of the firmware's ACPI tables for a guest that may use only some
/// of the machine's processors: a new RSDP, a copy of the RSDT and/or XSDT
/// whose MADT entry points at a filtered copy of the MADT, every other
/// entry pointing at the original table (FADT, DSDT, HPET, ... are shared
/// and read-only to the guest by convention, as on bare metal).
///
/// The filtered MADT keeps every structure except the Processor Local APIC
/// (type 0) and Processor Local x2APIC (type 9) structures of processors
/// not in `keeping`: I/O APICs, interrupt source overrides and local APIC
/// NMI structures stay as they are, so the guest's interrupt routing is the
/// firmware's. A guest that reads the copy (Linux through
/// `boot_params.acpi_rsdp_addr`) sees only the processors it can use and
/// does not wait for the others.
///
/// Layout at `base` (16-byte aligned pieces, all below 4 GiB when `base`
/// is): RSDP (36 bytes, or 20 for an ACPI 1.0 RSDP), XSDT copy, RSDT copy,
/// MADT copy.
public struct GuestACPITables: Hashable, Sendable {
    public var rsdpAddress: UInt64
    /// Bytes used from `base`.
    public var length: UInt64
    public var madtAddress: UInt64
    /// Processor structures left out of the copy.
    public var removedProcessors: Int
    /// Processor structures kept.
    public var keptProcessors: Int

    /// Builds the copy of the tables under `rsdp` at `base`, in at most
    /// `capacity` bytes, keeping the processors whose APIC IDs `keeping`
    /// accepts. Reads and writes `memory` (the originals are left alone).
    public static func build<M: PhysicalMemory>(
        from rsdp: RSDP, at base: UInt64, capacity: UInt64, keeping: (UInt32) -> Bool, in memory: inout M
    ) throws(ACPIError) -> GuestACPITables {
        let root = try rsdp.rootTable(in: memory)
        let madt = try MADT.find(in: root, memory: memory)
        let hasXSDT = rsdp.revision >= 2 && rsdp.xsdtAddress != 0
        let xsdt = hasXSDT ? root.table : nil
        let rsdt: SystemDescriptionTable? =
            rsdp.rsdtAddress == 0 ? nil
            : hasXSDT ? try .validate(at: UInt64(rsdp.rsdtAddress), expecting: .rsdt, in: memory) : root.table

        func align(_ value: UInt64) -> UInt64 { (value + 15) & ~15 }
        let rsdpLength = UInt64(rsdp.revision >= 2 ? RSDP.extendedLength : RSDP.checksummedLength)
        let xsdtAddress = align(base + rsdpLength)
        let rsdtAddress = align(xsdtAddress + UInt64(xsdt?.length ?? 0))
        let madtAddress = align(rsdtAddress + UInt64(rsdt?.length ?? 0))
        let end = madtAddress + UInt64(madt.table.length)
        guard end - base <= capacity else { throw .guestCopyTooLarge(needed: end - base, capacity: capacity) }

        // The MADT: header and fixed fields, then the structures kept.
        copy(madt.table.address, to: madtAddress, count: MADT.Offset.entries, in: &memory)
        var next = madtAddress + MADT.Offset.entries
        var removed = 0, kept = 0
        madt.forEachEntry(in: memory) { address, type, length in
            if let processor = MADT.processor(at: address, type: type, length: length, in: memory) {
                guard keeping(processor.apicID) else {
                    removed += 1
                    return
                }
                kept += 1
            }
            copy(address, to: next, count: UInt64(length), in: &memory)
            next += UInt64(length)
        }
        memory.store(UInt32(next - madtAddress), at: madtAddress + SystemDescriptionTable.Offset.length)
        fixChecksum(tableAt: madtAddress, in: &memory)

        // The root tables: the same entries, the MADT's replaced by the copy.
        if let xsdt {
            copyRoot(xsdt, to: xsdtAddress, entrySize: 8, replacing: madt.table.address, with: madtAddress, in: &memory)
        }
        if let rsdt {
            copyRoot(rsdt, to: rsdtAddress, entrySize: 4, replacing: madt.table.address, with: madtAddress, in: &memory)
        }

        // The RSDP: the original's OEM ID and revision, the new addresses.
        copy(rsdp.address, to: base, count: rsdpLength, in: &memory)
        memory.store(UInt32(truncatingIfNeeded: rsdt == nil ? 0 : rsdtAddress), at: base + RSDP.Offset.rsdtAddress)
        memory.store(UInt8(0), at: base + RSDP.Offset.checksum)
        memory.store(0 &- byteSum(memory, at: base, count: UInt64(RSDP.checksummedLength)), at: base + RSDP.Offset.checksum)
        if rsdp.revision >= 2 {
            memory.store(UInt64(xsdt == nil ? 0 : xsdtAddress), at: base + RSDP.Offset.xsdtAddress)
            memory.store(UInt32(rsdpLength), at: base + RSDP.Offset.length)
            memory.store(UInt8(0), at: base + RSDP.Offset.extendedChecksum)
            memory.store(0 &- byteSum(memory, at: base, count: rsdpLength), at: base + RSDP.Offset.extendedChecksum)
        }
        return GuestACPITables(
            rsdpAddress: base, length: next - base, madtAddress: madtAddress, removedProcessors: removed,
            keptProcessors: kept)
    }

    private static func copyRoot<M: PhysicalMemory>(
        _ table: SystemDescriptionTable, to address: UInt64, entrySize: UInt64, replacing original: UInt64,
        with replacement: UInt64, in memory: inout M
    ) {
        copy(table.address, to: address, count: UInt64(table.length), in: &memory)
        let copied = RootTable(table: SystemDescriptionTable(
            address: address, signature: table.signature, length: table.length, revision: table.revision))
        for index in 0..<copied.entryCount where copied.entry(index, in: memory) == original {
            let at = copied.table.bodyAddress + UInt64(index) * entrySize
            if entrySize == 8 {
                memory.store(replacement, at: at)
            } else {
                memory.store(UInt32(truncatingIfNeeded: replacement), at: at)
            }
        }
        fixChecksum(tableAt: address, in: &memory)
    }

    private static func copy<M: PhysicalMemory>(_ from: UInt64, to: UInt64, count: UInt64, in memory: inout M) {
        var offset: UInt64 = 0
        while offset < count {
            memory.store(memory.load(UInt8.self, at: from + offset), at: to + offset)
            offset += 1
        }
    }

    /// ACPI 6.5, "System Description Table Header" (5.2.6): Checksum
    /// (offset 9) makes the whole table sum to 0.
    private static func fixChecksum<M: PhysicalMemory>(tableAt address: UInt64, in memory: inout M) {
        let length = UInt64(memory.load(UInt32.self, at: address + SystemDescriptionTable.Offset.length))
        memory.store(UInt8(0), at: address + SystemDescriptionTable.Offset.checksum)
        memory.store(0 &- byteSum(memory, at: address, count: length), at: address + SystemDescriptionTable.Offset.checksum)
    }
}
