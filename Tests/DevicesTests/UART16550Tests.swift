import Testing
@testable import Devices

@Suite("UART16550")
struct UART16550Tests {
    typealias Access = RecordingPorts.Access

    /// A UART fake: SCR echoes, LSR reports THRE | TEMT.
    static func workingUART() -> RecordingPorts {
        let ports = RecordingPorts()
        ports.respond = { port, latched in
            switch port {
            case 0x3FD: 0x60
            case 0x3FF: latched ?? 0
            default: 0
            }
        }
        return ports
    }

    @Test("configure() writes IER, LCR(DLAB), DLL, DLM, LCR, FCR, MCR in that order")
    func configureTrace() {
        let ports = RecordingPorts()
        var uart = UART16550(io: ports)
        uart.configure()
        #expect(ports.trace == [
            .write(port: 0x3F9, value: 0x00, width: 1),  // IER: no interrupts
            .write(port: 0x3FB, value: 0x83, width: 1),  // LCR: DLAB = 1, 8N1
            .write(port: 0x3F8, value: 0x01, width: 1),  // DLL: divisor 1 = 115200
            .write(port: 0x3F9, value: 0x00, width: 1),  // DLM
            .write(port: 0x3FB, value: 0x03, width: 1),  // LCR: DLAB = 0, 8N1
            .write(port: 0x3FA, value: 0xC7, width: 1),  // FCR: enable, clear RX/TX, 14-byte trigger
            .write(port: 0x3FC, value: 0x03, width: 1),  // MCR: DTR | RTS
        ])
    }

    @Test("configure(divisor:) splits the divisor into DLL and DLM")
    func configureDivisor() {
        let ports = RecordingPorts()
        var uart = UART16550(io: ports, base: 0x2F8)
        uart.configure(divisor: 0x0180)  // 300 baud
        #expect(ports.trace[2] == .write(port: 0x2F8, value: 0x80, width: 1))
        #expect(ports.trace[3] == .write(port: 0x2F9, value: 0x01, width: 1))
    }

    @Test("presence test fails on a floating bus (reads 0xFF) after one probe")
    func presenceFloating() {
        let ports = RecordingPorts()
        var uart = UART16550(io: ports)
        let present = uart.isPresent()
        #expect(present == false)
        #expect(ports.trace == [
            .write(port: 0x3FF, value: 0x5A, width: 1),
            .read(port: 0x3FF, width: 1),
        ])
    }

    @Test("presence test passes when SCR holds 0x5A and 0xA5")
    func presenceWorking() {
        let ports = Self.workingUART()
        var uart = UART16550(io: ports)
        let present = uart.isPresent()
        #expect(present)
        #expect(ports.trace == [
            .write(port: 0x3FF, value: 0x5A, width: 1), .read(port: 0x3FF, width: 1),
            .write(port: 0x3FF, value: 0xA5, width: 1), .read(port: 0x3FF, width: 1),
        ])
    }

    @Test("presence test fails when SCR keeps only some bits")
    func presenceStuckBit() {
        let ports = RecordingPorts()
        ports.respond = { _, latched in (latched ?? 0) & 0x7F }
        var uart = UART16550(io: ports)
        let present = uart.isPresent()
        #expect(present == false)
    }

    @Test("write(byte) polls LSR until THRE, then writes THR")
    func writeWaitsForTHRE() {
        let ports = RecordingPorts()
        var lsrReads = 0
        ports.respond = { port, _ in
            guard port == 0x3FD else { return 0 }
            lsrReads += 1
            return lsrReads < 3 ? 0x00 : 0x20
        }
        var uart = UART16550(io: ports)
        let sent = uart.write(UInt8(0x41))
        #expect(sent)
        #expect(ports.trace == [
            .read(port: 0x3FD, width: 1), .read(port: 0x3FD, width: 1), .read(port: 0x3FD, width: 1),
            .write(port: 0x3F8, value: 0x41, width: 1),
        ])
    }

    @Test("write(byte) gives up after transmitSpinLimit polls and writes nothing")
    func writeBoundedSpin() {
        let ports = RecordingPorts()
        ports.respond = { _, _ in 0x00 }
        var uart = UART16550(io: ports, transmitSpinLimit: 10)
        let sent = uart.write(UInt8(0x41))
        #expect(sent == false)
        #expect(ports.trace.count == 10)
        #expect(ports.writes.isEmpty)
    }

    @Test("two UARTs side by side: each gets every byte, \\n as \\r\\n; a stuck one is skipped, the other still served")
    func sideBySide() {
        // COM1 and COM2 answer LSR with THRE | TEMT on one fake.
        let ports = RecordingPorts()
        ports.respond = { port, _ in port == 0x3FD || port == 0x2FD ? 0x60 : 0 }
        var com1 = UART16550(io: ports)
        var com2 = UART16550(io: ports, base: 0x2F8)
        Array("a\n".utf8).withUnsafeBytes { UART16550.write(utf8: $0, to: &com1, and: &com2) }
        let sent = ports.writes.compactMap { access -> String? in
            guard case .write(let port, let value, _) = access else { return nil }
            return "\(String(port, radix: 16)):\(value)"
        }
        #expect(sent == ["3f8:97", "2f8:97", "3f8:13", "2f8:13", "3f8:10", "2f8:10"])

        // COM2's THRE never sets: COM1 still gets the byte after the spin limit.
        let stuck = RecordingPorts()
        stuck.respond = { port, _ in port == 0x3FD ? 0x60 : 0 }
        var first = UART16550(io: stuck, transmitSpinLimit: 10)
        var second = UART16550(io: stuck, base: 0x2F8, transmitSpinLimit: 10)
        UART16550.write(0x41, to: &first, and: &second)
        #expect(stuck.writes.count == 1)
    }

    @Test("write(string) sends each \\n as \\r\\n")
    func writeStringTranslatesNewline() {
        let ports = Self.workingUART()
        var uart = UART16550(io: ports)
        uart.write("a\nb\n" as StaticString)
        uart.write(utf8: Array("c\n".utf8))
        let sent = ports.writes.map { access -> UInt8 in
            guard case .write(_, let value, _) = access else { return 0 }
            return UInt8(value)
        }
        #expect(sent == Array("a\r\nb\r\nc\r\n".utf8))
    }

    @Test("PC16550D register images")
    func registerImages() {
        #expect(PC16550D.LineControl.eightNoneOne.rawValue == 0x03)
        var lcr = PC16550D.LineControl(rawValue: 0x1B)  // 8 bits, even parity
        #expect(lcr.dataBits == 8 && lcr.parityEnable && lcr.evenParity && !lcr.extraStopBit)
        lcr.divisorLatchAccess = true
        #expect(lcr.rawValue == 0x9B)
        var fcr = PC16550D.FIFOControl(rawValue: 0)
        fcr.receiverTrigger = 2
        #expect(fcr.rawValue == 0x80)
        #expect(PC16550D.LineStatus(rawValue: 0x60) == [.transmitterHoldingEmpty, .transmitterEmpty])
        #expect(PC16550D.Register.lineStatus.rawValue == 5 && PC16550D.Register.scratch.rawValue == 7)
    }
}
