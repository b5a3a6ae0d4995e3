import Devices
import EPT
import FuzzSupport
import Primitives

/// The ACPI tables (Sources/Devices/ACPI): `ACPIPowerOff.discover`, i.e.
/// the RSDP search (EBDA, then 0xE0000-0xFFFFF), RSDT or XSDT, FADT, DSDT
/// and the `\_S5` package, over physical memory made of input chunks.
///
/// Input: mode byte (bit 0: the harness fixes the checksum of every chunk
/// that starts with "RSD PTR ", "RSDT", "XSDT", "FACP" or "DSDT", so the
/// fuzzer gets past them; bit 1: the RSDP is the first chunk, no search;
/// bit 2: addresses alias modulo 4 GiB),
/// the EBDA segment word (stored at 0x40E), then
/// chunks: address u64, length u16, bytes. A chunk address below 0x100000
/// is usually what a real RSDP has; tables may lie anywhere in 64 bits.
func fuzzACPI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.take(UInt8.self)
    // Bit 2: only the low 32 address bits decode, so the fuzzer reaches
    // a chunk through a 64-bit pointer (XSDT entry, X_DSDT) near 2^64.
    var memory = SparseMemory(addressMask: mode & 4 != 0 ? 0xFFFF_FFFF : .max)
    let ebda: UInt16 = input.take()
    memory.place([UInt8(truncatingIfNeeded: ebda), UInt8(truncatingIfNeeded: ebda >> 8)], at: RSDP.ebdaSegmentPointer)
    while !input.isAtEnd && memory.chunks.count < 16 {
        let address: UInt64 = input.take()
        let length = Int(input.take(UInt16.self))
        var bytes = Array(input.take(count: length))
        if mode & 1 != 0 { fixChecksums(&bytes) }
        memory.place(bytes, at: address)
    }
    do throws(ACPIError) {
        let acpi: ACPIPowerOff
        if mode & 2 != 0, memory.chunks.count > 1 {
            // The steps of `discover` from the RSDP in the first chunk on,
            // without the 128 KiB BIOS-area search (100 times faster). Like
            // every RSDP `locate` finds, it lies 16-byte aligned below 1 MiB.
            memory.chunks[1].address &= 0xF_FFF0
            let rsdp = try RSDP.validate(at: memory.chunks[1].address, in: memory)
            let fadt = try FADT.find(in: try rsdp.rootTable(in: memory), memory: memory)
            let dsdt = try SystemDescriptionTable.validate(at: fadt.dsdtAddress, expecting: .dsdt, in: memory)
            acpi = ACPIPowerOff(fadt: fadt, s5: try SleepType.s5(inDSDT: dsdt, memory: memory))
        } else {
            acpi = try ACPIPowerOff.discover(in: memory)
        }
        fuzzCheck(acpi.pm1aControlPort != 0, "PM1a port 0 accepted")
        _ = ACPIPowerOff.controlValue(current: 0xFFFF, sleepType: acpi.slpTypA)
        _ = acpi.isPowerOffRequest(port: acpi.pm1aControlPort, value: 0x2000 | UInt32(acpi.slpTypA & 7) << 10)
    } catch {
        _ = error.message
    }
    return 0
}

/// Sets the checksum byte(s) of a chunk that starts like an ACPI structure.
func fixChecksums(_ bytes: inout [UInt8]) {
    func fix(at offset: Int, over count: Int) {
        guard offset < bytes.count else { return }
        bytes[offset] = 0
        var sum: UInt8 = 0
        for index in 0..<min(count, bytes.count) { sum &+= bytes[index] }
        bytes[offset] = 0 &- sum
    }
    func length(at offset: Int) -> Int {
        guard offset + 4 <= bytes.count else { return bytes.count }
        return (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
    }
    if bytes.starts(with: Array("RSD PTR ".utf8)) {
        fix(at: 8, over: 20)
        if bytes.count > 15, bytes[15] >= 2 { fix(at: 32, over: length(at: 20)) }
        return
    }
    for signature in ["RSDT", "XSDT", "FACP", "DSDT"] where bytes.starts(with: Array(signature.utf8)) {
        fix(at: 9, over: length(at: 4))
    }
}
