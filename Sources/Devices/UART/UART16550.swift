/// A polled driver for a PC16550D-compatible UART (COM1 by default).
///
/// It never enables the UART's interrupts: the hypervisor runs with IF = 0
/// and writes with a bounded spin on LSR.THRE, so a missing or wedged port
/// costs at most `transmitSpinLimit` port reads per byte, never a hang.
///
/// ```swift
/// var console = UART16550(io: X86Ports())
/// if console.isPresent() {
///     console.configure()          // 115200 8N1, FIFOs on
///     console.write("pxhv: hello\n")
/// }
/// ```
public struct UART16550<IO: PortIO> {
    public var io: IO
    /// The I/O base (COM1: 0x3F8).
    public let base: UInt16
    /// LSR polls per byte before `write(_:)` gives the byte up.
    public var transmitSpinLimit: Int

    public init(io: IO, base: UInt16 = PC16550D.com1, transmitSpinLimit: Int = 100_000) {
        self.io = io
        self.base = base
        self.transmitSpinLimit = transmitSpinLimit
    }

    // MARK: Registers

    public func read(_ register: PC16550D.Register) -> UInt8 {
        io.inb(base &+ register.rawValue)
    }

    public mutating func write(_ register: PC16550D.Register, _ value: UInt8) {
        io.outb(base &+ register.rawValue, value)
    }

    public var lineStatus: PC16550D.LineStatus {
        PC16550D.LineStatus(rawValue: read(.lineStatus))
    }

    // MARK: Bring-up

    /// Whether a UART answers at `base`: the scratch register must hold
    /// 0x5A and then 0xA5. An empty I/O port floats to 0xFF and fails.
    ///
    /// Leaves SCR at 0xA5. The 8250 (no SCR) fails the test.
    public mutating func isPresent() -> Bool {
        scratchHolds(0x5A) && scratchHolds(0xA5)
    }

    private mutating func scratchHolds(_ pattern: UInt8) -> Bool {
        write(.scratch, pattern)
        return read(.scratch) == pattern
    }

    /// Programs the line for polled output: interrupts off, baud rate
    /// 115200 / `divisor`, 8 data bits, no parity, 1 stop bit, FIFOs on and
    /// cleared (14-byte receive trigger), DTR and RTS asserted.
    ///
    /// The order is the datasheet's: DLAB = 1 to reach DLL/DLM, then LCR
    /// written again with DLAB = 0 so that offsets 0 and 1 are THR and IER.
    public mutating func configure(divisor: UInt16 = 1) {
        write(.interruptEnable, 0)

        var lcr = PC16550D.LineControl.eightNoneOne
        lcr.divisorLatchAccess = true
        write(.lineControl, lcr.rawValue)
        write(.divisorLatchLow, UInt8(truncatingIfNeeded: divisor))
        write(.divisorLatchHigh, UInt8(truncatingIfNeeded: divisor >> 8))
        lcr.divisorLatchAccess = false
        write(.lineControl, lcr.rawValue)

        var fcr = PC16550D.FIFOControl(rawValue: 0)
        fcr.enable = true
        fcr.resetReceiver = true
        fcr.resetTransmitter = true
        fcr.receiverTrigger = 3
        write(.fifoControl, fcr.rawValue)

        let mcr: PC16550D.ModemControl = [.dataTerminalReady, .requestToSend]
        write(.modemControl, mcr.rawValue)
    }

    // MARK: Output

    /// Sends one byte once LSR.THRE is set. Returns false, without writing,
    /// when THRE stays clear for `transmitSpinLimit` polls.
    @discardableResult
    public mutating func write(_ byte: UInt8) -> Bool {
        var polls = 0
        while !lineStatus.contains(.transmitterHoldingEmpty) {
            polls += 1
            if polls >= transmitSpinLimit { return false }
        }
        write(.transmitterHolding, byte)
        return true
    }

    /// Sends one byte to each of two UARTs, waiting for both at once: the
    /// two lines then transmit side by side, so mirroring a text costs the
    /// time of one port, not two. A UART whose THRE stays clear for
    /// `transmitSpinLimit` polls is skipped for this byte.
    public static func write(_ byte: UInt8, to first: inout UART16550, and second: inout UART16550) {
        var polls = 0
        var firstReady = false, secondReady = false
        while polls < first.transmitSpinLimit {
            if !firstReady { firstReady = first.lineStatus.contains(.transmitterHoldingEmpty) }
            if !secondReady { secondReady = second.lineStatus.contains(.transmitterHoldingEmpty) }
            if firstReady && secondReady { break }
            polls += 1
        }
        if firstReady { first.write(.transmitterHolding, byte) }
        if secondReady { second.write(.transmitterHolding, byte) }
    }

    /// `write(utf8:)` to two UARTs side by side (`write(_:to:and:)`).
    public static func write(utf8 bytes: UnsafeRawBufferPointer, to first: inout UART16550, and second: inout UART16550) {
        for byte in bytes {
            if byte == 0x0A { write(0x0D, to: &first, and: &second) }
            write(byte, to: &first, and: &second)
        }
    }

    /// Sends UTF-8 bytes, each "\n" as "\r\n" (a terminal needs the CR).
    public mutating func write<Bytes: Sequence>(utf8 bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            if byte == 0x0A { write(UInt8(0x0D)) }
            write(byte)
        }
    }

    /// Sends `text`, "\n" as "\r\n".
    public mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { write(utf8: $0) }
    }

    /// Waits (bounded) until LSR.TEMT says the last byte has left the shift
    /// register. Before a power-off: emulators stop at once and would drop
    /// what is still in the UART. Returns false if it never drained.
    @discardableResult
    public func drain() -> Bool {
        var polls = 0
        while !lineStatus.contains(.transmitterEmpty) {
            polls += 1
            if polls >= transmitSpinLimit { return false }
        }
        return true
    }
}
