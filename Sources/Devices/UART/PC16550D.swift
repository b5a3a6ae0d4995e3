import Primitives
/// Register layout of the National Semiconductor PC16550D UART
/// (datasheet, June 1995, "Table II. Summary of Registers"), the chip every
/// PC COM port and every emulator models.
///
/// Offsets are from the port base (COM1: 0x3F8). Offsets 0 and 1 select the
/// divisor latch instead of RBR/THR and IER while LCR.DLAB is 1.
public enum PC16550D {
    /// The I/O base of COM1.
    public static var com1: UInt16 { 0x3F8 }

    /// Input clock 1.8432 MHz / 16: the baud rate with divisor 1.
    public static var baseBaudRate: UInt32 { 115_200 }

    /// A register offset from the UART's base port.
    public struct Register: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// RBR, read, DLAB = 0.
        public static let receiverBuffer = Self(rawValue: 0)
        /// THR, write, DLAB = 0.
        public static let transmitterHolding = Self(rawValue: 0)
        /// IER, DLAB = 0.
        public static let interruptEnable = Self(rawValue: 1)
        /// IIR, read.
        public static let interruptIdentification = Self(rawValue: 2)
        /// FCR, write.
        public static let fifoControl = Self(rawValue: 2)
        /// LCR; bit 7 is DLAB.
        public static let lineControl = Self(rawValue: 3)
        /// MCR.
        public static let modemControl = Self(rawValue: 4)
        /// LSR.
        public static let lineStatus = Self(rawValue: 5)
        /// MSR.
        public static let modemStatus = Self(rawValue: 6)
        /// SCR: eight bits with no function, for presence tests.
        public static let scratch = Self(rawValue: 7)
        /// DLL, DLAB = 1.
        public static let divisorLatchLow = Self(rawValue: 0)
        /// DLM, DLAB = 1.
        public static let divisorLatchHigh = Self(rawValue: 1)
    }

    /// LCR: character format and the divisor-latch access bit.
    public struct LineControl: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// WLS, bits 1:0: 0 = 5 bits ... 3 = 8 bits per character.
        public var wordLengthSelect: UInt8 {
            get { rawValue[bits: 0...1] }
            set { rawValue[bits: 0...1] = newValue }
        }
        /// Data bits per character, 5 through 8.
        public var dataBits: Int {
            get { Int(wordLengthSelect) + 5 }
            set { wordLengthSelect = UInt8(truncatingIfNeeded: newValue - 5) }
        }
        /// STB, bit 2: 2 stop bits (1.5 with 5-bit words) instead of 1.
        public var extraStopBit: Bool {
            get { rawValue[bit: 2] }
            set { rawValue[bit: 2] = newValue }
        }
        /// PEN, bit 3.
        public var parityEnable: Bool {
            get { rawValue[bit: 3] }
            set { rawValue[bit: 3] = newValue }
        }
        /// EPS, bit 4.
        public var evenParity: Bool {
            get { rawValue[bit: 4] }
            set { rawValue[bit: 4] = newValue }
        }
        /// Stick parity, bit 5.
        public var stickParity: Bool {
            get { rawValue[bit: 5] }
            set { rawValue[bit: 5] = newValue }
        }
        /// Set break, bit 6.
        public var setBreak: Bool {
            get { rawValue[bit: 6] }
            set { rawValue[bit: 6] = newValue }
        }
        /// DLAB, bit 7: offsets 0 and 1 address DLL and DLM.
        public var divisorLatchAccess: Bool {
            get { rawValue[bit: 7] }
            set { rawValue[bit: 7] = newValue }
        }

        /// 8 data bits, no parity, 1 stop bit, DLAB = 0: 0x03.
        public static var eightNoneOne: Self {
            var lcr = Self(rawValue: 0)
            lcr.dataBits = 8
            return lcr
        }
    }

    /// LSR.
    public struct LineStatus: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// DR, bit 0.
        public static let dataReady = Self(rawValue: 1 << 0)
        /// OE, bit 1.
        public static let overrunError = Self(rawValue: 1 << 1)
        /// PE, bit 2.
        public static let parityError = Self(rawValue: 1 << 2)
        /// FE, bit 3.
        public static let framingError = Self(rawValue: 1 << 3)
        /// BI, bit 4.
        public static let breakInterrupt = Self(rawValue: 1 << 4)
        /// THRE, bit 5: THR (or the transmit FIFO) can take a character.
        public static let transmitterHoldingEmpty = Self(rawValue: 1 << 5)
        /// TEMT, bit 6: THR and the transmitter shift register are empty.
        public static let transmitterEmpty = Self(rawValue: 1 << 6)
        /// Bit 7: at least one error in the receive FIFO.
        public static let errorInReceiverFIFO = Self(rawValue: 1 << 7)
    }

    /// FCR (write-only).
    public struct FIFOControl: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// Bit 0: enable both FIFOs.
        public var enable: Bool {
            get { rawValue[bit: 0] }
            set { rawValue[bit: 0] = newValue }
        }
        /// Bit 1: clear the receive FIFO (self-clearing).
        public var resetReceiver: Bool {
            get { rawValue[bit: 1] }
            set { rawValue[bit: 1] = newValue }
        }
        /// Bit 2: clear the transmit FIFO (self-clearing).
        public var resetTransmitter: Bool {
            get { rawValue[bit: 2] }
            set { rawValue[bit: 2] = newValue }
        }
        /// Bit 3: DMA mode select.
        public var dmaModeSelect: Bool {
            get { rawValue[bit: 3] }
            set { rawValue[bit: 3] = newValue }
        }
        /// Bits 7:6: receiver trigger level, 0..3 = 1, 4, 8, 14 bytes.
        public var receiverTrigger: UInt8 {
            get { rawValue[bits: 6...7] }
            set { rawValue[bits: 6...7] = newValue }
        }
    }

    /// MCR.
    public struct ModemControl: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// DTR, bit 0.
        public static let dataTerminalReady = Self(rawValue: 1 << 0)
        /// RTS, bit 1.
        public static let requestToSend = Self(rawValue: 1 << 1)
        /// OUT1, bit 2.
        public static let out1 = Self(rawValue: 1 << 2)
        /// OUT2, bit 3: gates the interrupt line on PC boards.
        public static let out2 = Self(rawValue: 1 << 3)
        /// LOOP, bit 4: local loopback.
        public static let loopback = Self(rawValue: 1 << 4)
    }
}
