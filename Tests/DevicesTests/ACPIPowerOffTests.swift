import Testing
@testable import Devices

@Suite("ACPI power-off")
struct ACPIPowerOffTests {
    @Test("powerOff reads PM1a_CNT and writes SLP_TYP << 10 | SLP_EN, keeping SCI_EN")
    func powerOffPM1a() {
        let ports = RecordingPorts()
        ports.respond = { _, _ in 0x0001 }  // SCI_EN set, as after the OS enabled ACPI
        var io = ports
        ACPIPowerOff(pm1aControlPort: 0x604, pm1bControlPort: nil, slpTypA: 0, slpTypB: 0).powerOff(&io)
        #expect(ports.trace == [.read(port: 0x604, width: 2), .write(port: 0x604, value: 0x2001, width: 2)])
    }

    @Test("powerOff writes PM1a then PM1b, each with its SLP_TYP")
    func powerOffBoth() {
        let ports = RecordingPorts()
        ports.respond = { _, _ in 0xFFFF }  // nothing but bits 0 and 9 may survive
        var io = ports
        ACPIPowerOff(pm1aControlPort: 0xB004, pm1bControlPort: 0xB044, slpTypA: 5, slpTypB: 7).powerOff(&io)
        #expect(ports.trace == [
            .read(port: 0xB004, width: 2), .write(port: 0xB004, value: 0x3601, width: 2),
            .read(port: 0xB044, width: 2), .write(port: 0xB044, value: 0x3E01, width: 2),
        ])
    }

    @Test("PM1Control bitfields")
    func pm1Control() {
        var control = PM1Control(rawValue: 0)
        control.sleepType = 5
        control.sleepEnable = true
        #expect(control.rawValue == (5 << 10) | (1 << 13))
        control.sleepType = 0xFF  // only 3 bits exist
        #expect(control.rawValue == (7 << 10) | (1 << 13))
        #expect(PM1Control(rawValue: 0x2401).sciEnable && PM1Control(rawValue: 0x2401).sleepType == 1)
    }

    @Test("a guest's S5 write is recognised; S3 and plain writes are not")
    func guestRequest() {
        let qemu = ACPIPowerOff(pm1aControlPort: 0x604, pm1bControlPort: nil, slpTypA: 0, slpTypB: 0)
        #expect(qemu.isPowerOffRequest(port: 0x604, value: 0x2001))      // S5: SLP_TYP 0 + SLP_EN
        #expect(!qemu.isPowerOffRequest(port: 0x604, value: 0x2401))     // S3 on QEMU: SLP_TYP 1
        #expect(!qemu.isPowerOffRequest(port: 0x604, value: 0x0001))     // SCI_EN only
        #expect(!qemu.isPowerOffRequest(port: 0x600, value: 0x2000))     // PM1a_EVT, not CNT
        let typ5 = ACPIPowerOff(pm1aControlPort: 0x404, pm1bControlPort: nil, slpTypA: 5, slpTypB: 5)
        #expect(typ5.isPowerOffRequest(port: 0x404, value: 0x3400))
    }

    @Test("ACPI mode: ACPI_ENABLE to SMI_CMD, then SCI_EN polled; nothing written when already in ACPI mode or without SMI_CMD")
    func enableACPIMode() {
        let bochs = ACPIPowerOff(pm1aControlPort: 0xB004, pm1bControlPort: nil, slpTypA: 0, slpTypB: 0,
                                 smiCommandPort: 0xB2, acpiEnableValue: 0xF1)
        // The firmware sets SCI_EN once it saw ACPI_ENABLE (like Bochs's SMM handler).
        var legacy = RecordingPorts()
        legacy.respond = { port, _ in port == 0xB004 ? 0 : 0xFFFF_FFFF }
        let smm = legacy
        legacy.respond = { port, _ in
            port == 0xB004 ? (smm.writes.contains(.write(port: 0xB2, value: 0xF1, width: 1)) ? 1 : 0) : 0xFFFF_FFFF
        }
        #expect(bochs.enableACPIMode(&legacy) == .enabled)
        #expect(legacy.writes == [.write(port: 0xB2, value: 0xF1, width: 1)])
        var acpi = RecordingPorts()
        acpi.respond = { _, _ in 0x0001 }
        #expect(bochs.enableACPIMode(&acpi) == .alreadyACPI && acpi.writes.isEmpty)
        var deaf = RecordingPorts()
        deaf.respond = { _, _ in 0 }
        #expect(bochs.enableACPIMode(&deaf, polls: 10) == .noResponse(polls: 10))
        let reduced = ACPIPowerOff(pm1aControlPort: 0x404, pm1bControlPort: nil, slpTypA: 7, slpTypB: 7)
        var none = RecordingPorts()
        none.respond = { _, _ in 0 }
        #expect(reduced.enableACPIMode(&none) == .alreadyACPI && none.writes.isEmpty)
    }
}
