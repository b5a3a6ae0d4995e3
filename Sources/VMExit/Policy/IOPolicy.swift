/// The ports the hypervisor models (Guest/README.md, "Ports"); everything
/// else passes through the I/O bitmaps and never exits.
///
/// - `debugPort` (0xE9): OUT of a byte goes to the console as guest output
///   (prefixed and escaped, never on the verdict channel); IN of a
///   byte reads 0xE9 (the Bochs/QEMU "port present" answer).
/// - The ACPI PM1a control port (`pm1aControlPort`, 16 bits, from the FADT):
///   an OUT with SLP_EN (bit 13) set and SLP_TYP (bits 12:10) equal to
///   `s5SleepType` ends the guest as `guestPowerOff(status: 0)`; any other
///   access to its two ports is forwarded to the real port.
/// - Anything else that exits, and string/odd-size forms: stop the guest.
public struct IOPolicy: Equatable, Sendable {
    public var debugPort: UInt16
    /// Nil when ACPI gave none (then only hypercall 4 powers off).
    public var pm1aControlPort: UInt16?
    /// SLP_TYPa for S5, from the DSDT's \_S5 package (3 bits).
    public var s5SleepType: UInt8

    public static let defaultDebugPort: UInt16 = 0xE9

    public init(debugPort: UInt16 = IOPolicy.defaultDebugPort, pm1aControlPort: UInt16? = nil, s5SleepType: UInt8 = 0) {
        self.debugPort = debugPort
        self.pm1aControlPort = pm1aControlPort
        self.s5SleepType = s5SleepType
    }

    /// True when `port` is one this policy intercepts.
    public func intercepts(_ port: UInt16) -> Bool {
        if port == debugPort { return true }
        if let pm1a = pm1aControlPort, port == pm1a || port == pm1a &+ 1 { return true }
        return false
    }

    /// Whether `io` is an OUT whose bytes set SLP_EN with SLP_TYP = S5 in
    /// the PM1a control register. Both fields are in the register's high
    /// byte (at port `pm1a + 1`): bit 5 SLP_EN, bits 4:2 SLP_TYP.
    public func isPowerOffRequest(_ io: PortIO) -> Bool {
        guard let pm1a = pm1aControlPort, !io.isIn, !io.isString, io.size != 0 else { return false }
        let highPort = UInt32(pm1a) + 1
        let first = UInt32(io.port)
        guard highPort >= first && highPort < first + UInt32(io.size) else { return false }
        let high = UInt8(truncatingIfNeeded: io.value >> ((highPort - first) * 8))
        return high & (1 << 5) != 0 && (high >> 2) & 0x7 == s5SleepType & 0x7
    }

    public func handle<Console: HypervisorConsole>(
        _ io: PortIO, registers: inout GuestRegisters, console: inout Console
    ) -> ExitAction {
        if io.port == debugPort && io.size == 1 && !io.isString {
            if io.isIn {
                registers.rax = (registers.rax & ~0xFF) | UInt64(UInt8(truncatingIfNeeded: debugPort))
            } else {
                withUnsafeBytes(of: UInt8(truncatingIfNeeded: io.value)) { console.guestOutput($0) }
            }
            return .advance
        }
        if let pm1a = pm1aControlPort, io.port == pm1a || io.port == pm1a &+ 1,
           !io.isString, io.size != 0 {
            return isPowerOffRequest(io) ? .stopGuest(.guestPowerOff(status: 0)) : .forwardPortIO(io)
        }
        return .stopGuest(.unhandledPortIO(io))
    }
}

/// Fills the two 4 KiB I/O bitmaps: A covers ports 0x0000-0x7FFF, B
/// 0x8000-0xFFFF, one bit per port (1 = exit). Sets the ports `policy`
/// intercepts, clears the rest.
///
/// Intel SDM Vol. 3C, "I/O-Bitmap Addresses" (25.6.4 in rev. 84)
public func fillIOBitmaps(a: UnsafeMutableRawBufferPointer, b: UnsafeMutableRawBufferPointer, policy: IOPolicy) {
    precondition(a.count >= 4096 && b.count >= 4096, "each I/O bitmap is 4 KiB")
    for index in 0..<4096 { a[index] = 0; b[index] = 0 }
    func intercept(_ port: UInt16) {
        let index = Int(port & 0x7FFF)
        let mask: UInt8 = 1 << UInt8(index % 8)
        if port < 0x8000 { a[index / 8] |= mask } else { b[index / 8] |= mask }
    }
    intercept(policy.debugPort)
    if let pm1a = policy.pm1aControlPort {
        intercept(pm1a)
        intercept(pm1a &+ 1)
    }
}
