import Devices
import Primitives
import VMExit
import VMXCore
import X86

/// The hypervisor's console: every line goes to COM1 (115200 8N1) and to the
/// VGA text screen, prefixed `pxhv: ` so that people and tests can tell the
/// hypervisor's lines from a guest's.
///
/// The same lines, and nothing else, also go to the verdict channel: COM2,
/// whose ports the I/O bitmap hides from every guest. COM1 is shared (a
/// guest writes it directly), so a guest can print a line that looks like
/// the hypervisor's there; on COM2 it cannot. Runners and tests take the
/// verdict (results, exit counts, stop reasons) from COM2.
///
/// Guest bytes that pass through the hypervisor (hypercall 1, port 0xE9)
/// go to COM1 and VGA only, one line at a time prefixed `guest| `, with
/// control characters, bytes >= 0x7F and backslashes escaped as `\xNN`.
struct Console: TextOutput {
    private var serial = UART16550(io: HardwarePorts())
    private var verdict = UART16550(io: HardwarePorts(), base: Self.verdictPort)
    private var hasVerdictChannel = false
    private var vga = VGAText()
    /// While a BIOS guest runs, the VGA screen is its own (the BIOS's
    /// cursor, its video mode): pxHV's lines go to the serial ports only.
    var screenBelongsToGuest = false
    /// A guest line has been started and not yet ended with "\n".
    private var guestLineOpen = false
    /// TSC ticks spent in `write` so far (the boot timeline's `serial=`).
    private(set) var writeTicks: UInt64 = 0
    /// A hypervisor line has been started and not yet ended with "\n":
    /// the console stays this CPU's until it is.
    private var hypervisorLineOpen = false
    /// Nesting of `acquire` on the CPU that holds the console.
    private var lockDepth = 0

    /// Who holds the console: 0, or the holder's GS base (its per-CPU
    /// block) with bit 0 set. With application processors running guests,
    /// several CPUs print: each takes the console for a whole line (a
    /// hypervisor line written in pieces keeps it until its "\n"; a
    /// guest's bytes take it per hypercall, so a guest cannot hold it).
    nonisolated(unsafe) private static var holder: UInt64 = 0
    /// Spins before a CPU takes the console from a holder that never gave
    /// it back (one that faulted mid-line): a panic report still gets out.
    private static let patience = 50_000_000

    private mutating func acquire() {
        let me = x86_rdmsr(MSR.gsBase.rawValue) | 1
        if Self.holder == me {
            lockDepth += 1
            return
        }
        var spins = 0
        while !x86_compare_exchange64(&Self.holder, 0, me) {
            spins += 1
            if spins == Self.patience {
                x86_store_release64(&Self.holder, me)
                break
            }
            x86_pause()
        }
        lockDepth = 1
    }

    private mutating func release() {
        lockDepth -= 1
        if lockDepth == 0 && !hypervisorLineOpen { x86_store_release64(&Self.holder, 0) }
    }

    /// COM2: the verdict channel's UART.
    static let verdictPort: UInt16 = 0x2F8

    /// Programs COM1 (stage 2 did too; the hypervisor does not rely on it)
    /// and COM2 when a UART answers there (a missing one costs nothing).
    mutating func configure() {
        serial.configure()
        hasVerdictChannel = verdict.isPresent()
        if hasVerdictChannel { verdict.configure() }
    }

    /// Waits until COM1 and COM2 have sent everything (before a power-off).
    func drain() {
        serial.drain()
        if hasVerdictChannel { verdict.drain() }
    }

    /// Prints `pxhv: <text>` and a newline. (Never inlined: one call per
    /// diagnostic, not three writes.)
    @inline(never)
    mutating func line(_ text: Message) {
        acquire()
        write("pxhv: ")
        write(text)
        write("\n")
        release()
    }

    /// Hypervisor bytes that bring their own `pxhv: ` and newlines.
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        acquire()
        defer { release() }
        if let last = bytes.last { hypervisorLineOpen = last != UInt8(ascii: "\n") }
        let start = x86_rdtsc()
        endGuestLine()
        if hasVerdictChannel {
            UART16550.write(utf8: bytes, to: &serial, and: &verdict)
        } else {
            serial.write(utf8: bytes)
        }
        if !screenBelongsToGuest { for byte in bytes { vga.put(byte) } }
        writeTicks &+= x86_rdtsc() &- start
    }

    /// Keeps hypervisor lines at the start of a line on COM1 too.
    private mutating func endGuestLine() {
        guard guestLineOpen else { return }
        put("\n")
        guestLineOpen = false
    }

    /// Prints `pxhv: error: <text>`.
    @inline(never)
    mutating func error(_ text: Message) {
        acquire()
        write("pxhv: error: ")
        write(text)
        write("\n")
        release()
    }

    /// A guest's bytes (hypercall 1, port 0xE9): prefixed and escaped, never
    /// on the verdict channel.
    mutating func guestOutput(_ bytes: UnsafeRawBufferPointer) {
        acquire()
        defer { release() }
        var start = 0
        while start < bytes.count {
            if !guestLineOpen {
                put("guest| ")
                guestLineOpen = true
            }
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            GuestText.escape(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) { putBytes($0) }
            if end < bytes.count {
                put("\n")
                guestLineOpen = false
            }
            start = end + 1
        }
    }

    /// COM1 and VGA only.
    private mutating func put(_ text: StaticString) {
        text.withUTF8Buffer { putBytes(UnsafeRawBufferPointer($0)) }
    }

    private mutating func putBytes(_ bytes: UnsafeRawBufferPointer) {
        serial.write(utf8: bytes)
        if !screenBelongsToGuest { for byte in bytes { vga.put(byte) } }
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

/// The one console. Every CPU runs the hypervisor with interrupts off; the
/// CPUs take turns by the console's own lock (`Console.acquire`).
nonisolated(unsafe) var console = Console()
