import Devices
import X86

/// The hypervisor's console: every line goes to COM1 (115200 8N1) and to the
/// VGA text screen, prefixed `pxhv: ` so that people and tests can tell the
/// hypervisor's lines from a guest's.
struct Console {
    private var serial = UART16550(io: HardwarePorts())
    private var vga = VGAText()

    /// Programs COM1 (stage 2 did too; the hypervisor does not rely on it).
    mutating func configure() {
        serial.configure()
    }

    /// Waits until COM1 has sent everything (before a power-off).
    func drain() {
        serial.drain()
    }

    /// Prints `pxhv: <text>` and a newline.
    mutating func line(_ text: String) {
        write("pxhv: ")
        write(text)
        write("\n")
    }

    /// Prints `pxhv: error: <text>`.
    mutating func error(_ text: String) {
        line("error: " + text)
    }

    /// Raw bytes (a guest's output): "\n" still becomes "\r\n" on COM1.
    mutating func write(bytes: UnsafeRawBufferPointer) {
        serial.write(utf8: bytes)
        for byte in bytes { vga.put(byte) }
    }

    mutating func write(_ text: String) {
        serial.write(text)
        for byte in text.utf8 { vga.put(byte) }
    }
}

/// The 80x25 colour text buffer at 0xB8000, scrolled by hand.
struct VGAText {
    nonisolated(unsafe) private static let base = UnsafeMutablePointer<UInt16>(bitPattern: 0xB8000)!
    private static let columns = 80, rows = 25
    private static let attribute: UInt16 = 0x0700  // light grey on black
    private var column = 0
    private var row = 0

    mutating func put(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\n"):
            newline()
        case UInt8(ascii: "\r"):
            column = 0
        default:
            Self.base[row * Self.columns + column] = Self.attribute | UInt16(byte)
            column += 1
            if column == Self.columns { newline() }
        }
    }

    private mutating func newline() {
        column = 0
        if row < Self.rows - 1 {
            row += 1
            return
        }
        for index in 0..<(Self.rows - 1) * Self.columns {
            Self.base[index] = Self.base[index + Self.columns]
        }
        for index in (Self.rows - 1) * Self.columns..<Self.rows * Self.columns {
            Self.base[index] = Self.attribute | UInt16(UInt8(ascii: " "))
        }
    }
}

/// The one console. The hypervisor runs on one CPU with interrupts off, so
/// nothing else can be inside it at the same time.
nonisolated(unsafe) var console = Console()

/// Lower-case hex with a `0x` prefix.
func hex<T: FixedWidthInteger>(_ value: T) -> String {
    "0x" + String(value, radix: 16)
}
