import Testing
@testable import Devices

/// Discovery over tables captured from QEMU/SeaBIOS and Bochs/rombios runs
/// (see Fixtures/CapturedACPI.swift for how).
@Suite("ACPI tables captured from emulators")
struct CapturedACPITests {
    @Test("QEMU -M pc (PIIX4): PM1a_CNT 0x604, S5 = {0, 0}")
    func qemuPC() throws {
        let memory = SparseMemory(captured: CapturedACPI.qemuPC)
        let rsdp = try RSDP.locate(in: memory)
        #expect(rsdp.address == 0xF59D0 && rsdp.revision == 0)
        let fadt = try FADT.find(in: try rsdp.rootTable(in: memory), memory: memory)
        #expect(fadt.table.length == 116 && fadt.dsdtAddress == 0x1FE0040)
        #expect(fadt.pm1aEventPort == 0x600 && fadt.pm1bEventPort == nil && fadt.pm1EventLength == 4)
        #expect(fadt.resetRegister == nil)  // ACPI 1.0: no RESET_REG
        #expect(try ACPIPowerOff.discover(in: memory)
                == ACPIPowerOff(pm1aControlPort: 0x604, pm1bControlPort: nil, slpTypA: 0, slpTypB: 0,
                                pm1aEventPorts: 0x600...0x603, smiCommandPort: 0xB2, acpiEnableValue: 0xF1))
    }

    @Test("QEMU -M q35 (ICH9): FADT rev 3, X_PM1a_CNT_BLK system I/O 0x604, S5 = {0, 0}")
    func qemuQ35() throws {
        let memory = SparseMemory(captured: CapturedACPI.qemuQ35)
        let rsdp = try RSDP.locate(in: memory)
        let fadt = try FADT.find(in: try rsdp.rootTable(in: memory), memory: memory)
        #expect(fadt.table.length == 244 && fadt.table.revision == 3)
        let gas = GenericAddress(at: fadt.table.address + 172, in: memory)
        #expect(gas == GenericAddress(addressSpace: .systemIO, registerBitWidth: 16, registerBitOffset: 0,
                                      accessSize: 0, address: 0x604))
        // RESET_REG: system I/O 0xCF9, 8 bits, RESET_VALUE 0x0F (RESET_REG_SUP, flag bit 10, set).
        let reset = FADT.ResetRegister(
            register: GenericAddress(addressSpace: .systemIO, registerBitWidth: 8, registerBitOffset: 0,
                                     accessSize: 0, address: 0xCF9), value: 0x0F)
        #expect(fadt.resetRegister == reset)
        #expect(fadt.pm1aEventPort == 0x600 && fadt.pm1EventLength == 4)
        let found = try ACPIPowerOff.discover(in: memory)
        #expect(found == ACPIPowerOff(pm1aControlPort: 0x604, pm1bControlPort: nil, slpTypA: 0, slpTypB: 0,
                                      pm1aEventPorts: 0x600...0x603, resetRegister: reset,
                                      smiCommandPort: 0xB2, acpiEnableValue: 0x02))
        #expect(found.resetPort! == (0xCF9, 0x0F))
    }

    @Test("Bochs 2.7 rombios (PIIX4, PM base 0xB000): PM1a_CNT 0xB004, S5 = {0, 0}")
    func bochs() throws {
        let memory = SparseMemory(captured: CapturedACPI.bochs)
        let rsdp = try RSDP.locate(in: memory)
        #expect(rsdp.address == 0xF9FA0 && rsdp.revision == 0 && rsdp.rsdtAddress == 0x1FF0000)
        let found = try ACPIPowerOff.discover(in: memory)
        #expect(found == ACPIPowerOff(pm1aControlPort: 0xB004, pm1bControlPort: nil, slpTypA: 0, slpTypB: 0,
                                      pm1aEventPorts: 0xB000...0xB003, smiCommandPort: 0xB2, acpiEnableValue: 0xF1))
        #expect(found.resetRegister == nil && found.resetPort == nil)
    }

    @Test("every captured table passes signature, length and checksum validation",
          arguments: ["qemu-pc", "qemu-q35", "bochs"])
    func allTablesValidate(machine: String) throws {
        let regions = switch machine {
        case "qemu-pc": CapturedACPI.qemuPC
        case "qemu-q35": CapturedACPI.qemuQ35
        default: CapturedACPI.bochs
        }
        #expect(regions.count >= 7)
        let memory = SparseMemory(captured: regions)
        for region in regions where region.name.description != "RSDP" {
            let signature = ACPISignature(rawValue: memory.load(UInt32.self, at: region.address))
            let table = try SystemDescriptionTable.validate(at: region.address, expecting: signature, in: memory)
            #expect(table.signature.isPrintable, "\(machine) \(region.name)")
        }
    }
}
