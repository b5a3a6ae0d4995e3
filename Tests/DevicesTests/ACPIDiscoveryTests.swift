@testable import Devices
import Primitives
import Testing

@Suite("ACPI discovery on synthetic tables")
struct ACPIDiscoveryTests {
    typealias M = SyntheticMachine

    func discover(_ machine: SyntheticMachine) -> Result<ACPIPowerOff, ACPIError> {
        do throws(ACPIError) {
            return .success(try ACPIPowerOff.discover(in: machine.memory))
        } catch {
            return .failure(error)
        }
    }

    @Test("ACPI 1.0: RSDP rev 0 -> RSDT -> FADT -> DSDT _S5_")
    func acpi1() throws {
        let result = try discover(M.acpi1()).get()
        #expect(result == ACPIPowerOff(pm1aControlPort: 0x604, pm1bControlPort: nil, slpTypA: 5, slpTypB: 5))
    }

    @Test("the RSDP in the EBDA's first KiB wins over one in the BIOS area")
    func ebdaFirst() throws {
        var machine = M.acpi1()
        // A second machine description in the EBDA pointing at another RSDT.
        let otherRSDT: UInt64 = 0x7FD_0000
        let otherFADT: UInt64 = 0x7FD_1000
        machine.put(ACPIBuilder.rsdp(revision: 0, rsdt: UInt32(otherRSDT)), at: M.ebdaBase + 0x30)
        machine.put(ACPIBuilder.rsdt(entries: [UInt32(otherFADT)]), at: otherRSDT)
        machine.put(ACPIBuilder.fadt(dsdt: UInt32(M.dsdtAddress), pm1a: 0xB004), at: otherFADT)
        let rsdp = try RSDP.locate(in: machine.memory)
        #expect(rsdp.address == M.ebdaBase + 0x30)
        #expect(try discover(machine).get().pm1aControlPort == 0xB004)
    }

    @Test("RSDP off a 16-byte boundary is not found")
    func rsdpAlignment() {
        var machine = M.acpi1()
        let rsdp = ACPIBuilder.rsdp(revision: 0, rsdt: UInt32(M.rsdtAddress))
        machine.put([UInt8](repeating: 0, count: 20), at: M.rsdpAddress)
        machine.put(rsdp, at: M.rsdpAddress + 8)
        #expect(discover(machine) == .failure(.rsdpNotFound(ebdaBase: M.ebdaBase)))
    }

    /// A trap in fuzz-acpi (input Fuzz/Seeds/fuzz-acpi/
    /// regression-xsdt-entry-near-2-64): an XSDT entry near 2^64 whose
    /// table header matched made the checksum loop overflow its address.
    @Test("a 64-bit table pointer beyond physical memory is refused, not followed")
    func tablePointerBeyondPhysicalMemory() throws {
        var machine = M.acpi1()
        let top: UInt64 = 0xFFFF_FFFF_FFFF_FF00
        machine.put(ACPIBuilder.rsdp(revision: 2, rsdt: UInt32(M.rsdtAddress), xsdt: M.xsdtAddress),
                    at: M.rsdpAddress)
        machine.put(ACPIBuilder.xsdt(entries: [top]), at: M.xsdtAddress)
        // Just the header's signature and a Length running past 2^64.
        machine.put(Array(ACPIBuilder.table("FACP", body: [UInt8](repeating: 0, count: 0x200)).prefix(8)), at: top)
        #expect(discover(machine) == .failure(.badAddress(signature: .fadt, address: top)))
        #expect(discover(machine).failureText == "ACPI: FACP pointer 0xffffffffffffff00 lies beyond physical memory")

        // The same through X_DSDT.
        var viaDSDT = M.acpi1()
        viaDSDT.put(ACPIBuilder.fadt(length: 244, dsdt: 0, pm1a: 0x604, xDSDT: top, revision: 5), at: M.fadtAddress)
        #expect(discover(viaDSDT) == .failure(.badAddress(signature: .dsdt, address: top)))
    }

    @Test("ACPI 2.0: RSDP rev 2 -> XSDT (64-bit entries), X_PM1a/X_PM1b GAS, X_DSDT above 4 GiB")
    func acpi2() throws {
        var machine = M.acpi1()
        let highDSDT: UInt64 = 0x1_0000_2000
        machine.put(ACPIBuilder.rsdp(revision: 2, rsdt: UInt32(M.rsdtAddress), xsdt: M.xsdtAddress),
                    at: M.rsdpAddress)
        machine.put(ACPIBuilder.xsdt(entries: [M.apicAddress, M.fadtAddress]), at: M.xsdtAddress)
        machine.put(ACPIBuilder.fadt(length: 244, dsdt: 0, pm1a: 0x604, pm1b: 0,
                                     xDSDT: highDSDT,
                                     xPM1a: ACPIBuilder.gas(space: 1, address: 0xB004),
                                     xPM1b: ACPIBuilder.gas(space: 1, address: 0xB044), revision: 5),
                    at: M.fadtAddress)
        machine.put(ACPIBuilder.dsdt(aml: ACPIBuilder.s5Package([0x00], [0x01], root: true)), at: highDSDT)
        // The RSDT is now stale and corrupt: only the XSDT may be followed.
        machine.flipByte(at: M.rsdtAddress + 40)
        let result = try discover(machine).get()
        #expect(result == ACPIPowerOff(pm1aControlPort: 0xB004, pm1bControlPort: 0xB044, slpTypA: 0, slpTypB: 1))
    }

    @Test("FADT reset register: I/O space gives a port and value; memory space is kept but gives no port; X_PM1a_EVT_BLK wins")
    func resetRegister() throws {
        func fadt(reset: [UInt8]?, value: UInt8) -> FADT? {
            var machine = M.acpi1()
            machine.put(ACPIBuilder.fadt(length: 244, dsdt: UInt32(M.dsdtAddress), pm1a: 0x404, revision: 3,
                                         pm1aEvent: 0x400, xPM1aEvent: ACPIBuilder.gas(space: 1, address: 0x1800),
                                         reset: reset, resetValue: value), at: M.fadtAddress)
            return try? FADT.find(in: try RSDP.locate(in: machine.memory).rootTable(in: machine.memory),
                                  memory: machine.memory)
        }
        let io = try #require(fadt(reset: ACPIBuilder.gas(space: 1, bitWidth: 8, address: 0xCF9), value: 0x06))
        #expect(io.resetRegister?.register.address == 0xCF9 && io.resetRegister?.value == 0x06)
        #expect(io.pm1aEventPort == 0x1800 && io.pm1EventLength == 4)
        let s5 = SleepType(a: 7, b: 7)
        #expect(ACPIPowerOff(fadt: io, s5: s5).resetPort! == (0xCF9, 0x06))
        #expect(ACPIPowerOff(fadt: io, s5: s5).pm1aEventPorts == 0x1800...0x1803)
        let memory = try #require(fadt(reset: ACPIBuilder.gas(space: 0, bitWidth: 8, address: 0xFED0_0F00), value: 1))
        #expect(memory.resetRegister?.register.addressSpace == .systemMemory)
        #expect(ACPIPowerOff(fadt: memory, s5: s5).resetPort == nil)
        let none = try #require(fadt(reset: nil, value: 0))
        #expect(none.resetRegister == nil)
    }

    @Test("revision 2 with a zero XSDT address falls back to the RSDT")
    func acpi2WithoutXSDT() throws {
        var machine = M.acpi1()
        machine.put(ACPIBuilder.rsdp(revision: 2, rsdt: UInt32(M.rsdtAddress), xsdt: 0), at: M.rsdpAddress)
        let root = try RSDP.locate(in: machine.memory).rootTable(in: machine.memory)
        #expect(root.table.signature == .rsdt && root.entrySize == 4 && root.entryCount == 2)
        #expect(try discover(machine).get().pm1aControlPort == 0x604)
    }

    // MARK: Each corruption, its own error

    @Test("bad RSDP checksum")
    func badRSDPChecksum() {
        var machine = M.acpi1()
        machine.flipByte(at: M.rsdpAddress + 9)  // OEMID
        let result = discover(machine)
        #expect(result == .failure(.rsdpBadChecksum(address: 0xF0000)))
        #expect(result.failureText == "ACPI: RSDP at 0xf0000 has a bad checksum")
    }

    @Test("bad RSDP extended checksum (revision 2)")
    func badRSDPExtendedChecksum() {
        var machine = M.acpi1()
        var rsdp = ACPIBuilder.rsdp(revision: 2, rsdt: UInt32(M.rsdtAddress), xsdt: M.xsdtAddress)
        rsdp[33] = 0x5A  // reserved byte: outside the first 20, inside the 36
        machine.put(rsdp, at: M.rsdpAddress)
        #expect(discover(machine) == .failure(.rsdpBadExtendedChecksum(address: M.rsdpAddress)))
    }

    @Test("no RSDP anywhere")
    func noRSDP() {
        var machine = M.acpi1()
        machine.put([UInt8](repeating: 0, count: 8), at: M.rsdpAddress)
        let result = discover(machine)
        #expect(result == .failure(.rsdpNotFound(ebdaBase: 0x9FC00)))
        #expect(result.failureText == "ACPI: no RSDP in the EBDA at 0x9fc00 or in 0xe0000-0xfffff")
    }

    @Test("bad RSDT checksum")
    func badRSDTChecksum() {
        var machine = M.acpi1()
        machine.flipByte(at: M.rsdtAddress + 10)
        let result = discover(machine)
        #expect(result == .failure(.badChecksum(signature: .rsdt, address: M.rsdtAddress)))
        #expect(result.failureText == "ACPI: RSDT at 0x7fe0000 has a bad checksum")
    }

    @Test("bad FADT checksum")
    func badFADTChecksum() {
        var machine = M.acpi1()
        machine.flipByte(at: M.fadtAddress + 64)
        #expect(discover(machine) == .failure(.badChecksum(signature: .fadt, address: M.fadtAddress)))
    }

    @Test("bad DSDT checksum")
    func badDSDTChecksum() {
        var machine = M.acpi1()
        machine.flipByte(at: M.dsdtAddress + 40)
        let result = discover(machine)
        #expect(result == .failure(.badChecksum(signature: .dsdt, address: M.dsdtAddress)))
        #expect(result.failureText == "ACPI: DSDT at 0x7fe2000 has a bad checksum")
    }

    @Test("DSDT pointer at something else")
    func dsdtWrongSignature() {
        var machine = M.acpi1()
        machine.put(ACPIBuilder.fadt(dsdt: UInt32(M.apicAddress), pm1a: 0x604), at: M.fadtAddress)
        let result = discover(machine)
        #expect(result == .failure(.badSignature(expected: .dsdt, found: ACPISignature(rawValue: 0x4349_5041),
                                                 address: M.apicAddress)))
        #expect(result.failureText == "ACPI: expected DSDT at 0x7fe0200, found APIC")
    }

    @Test("table length below the header")
    func badLength() {
        var machine = M.acpi1()
        machine.memory.store(UInt32(20), at: M.rsdtAddress + 4)
        let result = discover(machine)
        #expect(result == .failure(.badLength(signature: .rsdt, address: M.rsdtAddress, length: 20)))
        #expect(result.failureText == "ACPI: RSDT at 0x7fe0000 has a bad length 20")
    }

    @Test("no FACP in the root table")
    func noFACP() {
        var machine = M.acpi1()
        machine.put(ACPIBuilder.rsdt(entries: [UInt32(M.apicAddress)]), at: M.rsdtAddress)
        let result = discover(machine)
        #expect(result == .failure(.noFADT(root: .rsdt, address: M.rsdtAddress)))
        #expect(result.failureText == "ACPI: no FACP in the RSDT at 0x7fe0000")
    }

    @Test("no _S5_ in the DSDT (only _S3_)")
    func noS5() {
        var machine = M.acpi1()
        machine.put(ACPIBuilder.dsdt(aml: []), at: M.dsdtAddress)
        let result = discover(machine)
        #expect(result == .failure(.noS5(dsdtAddress: M.dsdtAddress)))
        #expect(result.failureText == "ACPI: no _S5_ package in the DSDT at 0x7fe2000")
    }

    @Test("_S5_ package with a non-integer first element")
    func malformedS5() {
        var machine = M.acpi1()
        let aml = ACPIBuilder.s5Package([0x0D, 0x41], [0x00])  // StringPrefix
        machine.put(ACPIBuilder.dsdt(aml: aml), at: M.dsdtAddress)
        let s5Address = M.dsdtAddress + 36 + UInt64(ACPIBuilder.s3Package.count) + 1
        #expect(discover(machine) == .failure(.malformedS5(address: s5Address)))
    }

    @Test("FADT without a PM1a control block")
    func noPM1a() {
        var machine = M.acpi1()
        machine.put(ACPIBuilder.fadt(dsdt: UInt32(M.dsdtAddress), pm1a: 0), at: M.fadtAddress)
        let result = discover(machine)
        #expect(result == .failure(.noPM1aControlBlock(fadtAddress: M.fadtAddress)))
        #expect(result.failureText == "ACPI: FACP at 0x7fe1000 has no PM1a control block")
    }

    @Test("X_PM1a_CNT_BLK in system memory is refused")
    func memoryMappedPM1a() {
        var machine = M.acpi1()
        machine.put(ACPIBuilder.fadt(length: 244, dsdt: UInt32(M.dsdtAddress), pm1a: 0x604,
                                     xPM1a: ACPIBuilder.gas(space: 0, address: 0xFED8_0804)),
                    at: M.fadtAddress)
        let result = discover(machine)
        #expect(result == .failure(.unusablePM1ControlBlock(fadtAddress: M.fadtAddress, addressSpace: 0,
                                                            address: 0xFED8_0804)))
        #expect(result.failureText
                == "ACPI: FACP at 0x7fe1000: PM1 control block 0xfed80804 in address space 0 is not a system I/O port")
    }

    @Test("FADT without a DSDT address")
    func noDSDT() {
        var machine = M.acpi1()
        machine.put(ACPIBuilder.fadt(dsdt: 0, pm1a: 0x604), at: M.fadtAddress)
        #expect(discover(machine) == .failure(.noDSDT(fadtAddress: M.fadtAddress)))
    }
}

extension Result where Failure == ACPIError {
    var failureText: String? {
        if case .failure(let error) = self { error.message.description } else { nil }
    }
}
