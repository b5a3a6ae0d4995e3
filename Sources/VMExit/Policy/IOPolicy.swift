import Devices
import Primitives

/// The ports the hypervisor watches (Guest/README.md, "Ports"); every other
/// port passes through the I/O bitmaps and never exits. Devices the guest
/// owns pass through; what resets, sleeps or powers the machine, signals an
/// SMI, ends the emulator, or carries the hypervisor's verdict does not.
///
/// An access exits when any of its bytes lands on a watched port; the rules
/// look at each byte (port `io.port + i`, byte `i` of the value), first match:
///
/// 1. `debugPort` (0xE9), byte access: OUT goes to the console as guest
///    output (prefixed and escaped, never on the verdict channel); IN reads 0xE9 (the Bochs/QEMU "port present" answer).
/// 2. String forms (INS/OUTS) and undefined sizes: stop the guest.
/// 3. Reset, OUT only: 0xCF9 (reset control) with bit 2 (SYS_RST) set,
///    except a 32-bit OUT at 0xCF8 (PCI CONFIG_ADDRESS); 0x92 (system
///    control port A) with bit 0 (fast reset) set; 0x64 (8042 command) with
///    a "pulse output lines" command that pulses line 0, the CPU reset
///    (0xF0-0xFE even: 0xFE is the usual one); the FADT's RESET_REG (an I/O
///    port) written with RESET_VALUE. The guest ends with
///    `resetRequested(port:value:)`; it is not restarted.
/// 4. ACPI sleep, OUT only: PM1a or PM1b control (from the FADT) with SLP_EN
///    set (bit 13: bit 5 of the high byte at port + 1): SLP_TYP equal to that
///    block's \_S5 value ends the guest as `guestPowerOff(status: 0)`; any
///    other SLP_TYP is dropped and reported once per guest (`pxhv: guest:
///    sleep state refused (SLP_TYP n)`). Nothing with SLP_EN reaches the
///    hardware.
/// 5. Dropped ports (`isDropped`): the verdict UART COM2 0x2F8-0x2FF, the SMI
///    command ports 0xB2 (APM_CNT) and the FADT's SMI_CMD (the hypervisor
///    put the machine in ACPI mode before the guest), and the emulators' shutdown and panic
///    ports (Bochs 0x8900, 0x8A00-0x8A01, 0x400-0x401; QEMU 0x604-0x605 and
///    older Bochs/QEMU 0xB004-0xB005 PM1a; isa-debug-exit 0x501-0x502 and
///    0xF4) unless the FADT makes them this machine's PM1 control or event
///    ports: an OUT does nothing, an IN reads all ones (no device).
/// 6. Anything else that exited (0xCF8-0xCFB without a reset, 0x92 A20,
///    other 8042 commands, PM1 writes without SLP_EN, RESET_REG with another
///    value, every IN of those): forwarded to the real port.
public struct IOPolicy: Equatable, Sendable {
    public var debugPort: UInt16
    /// PM1a control; nil when ACPI gave none (then only hypercall 4 powers off).
    public var pm1aControlPort: UInt16?
    /// PM1b control; nil when the platform has none.
    public var pm1bControlPort: UInt16?
    /// SLP_TYPa for S5, from the DSDT's \_S5 package (3 bits).
    public var s5SleepType: UInt8
    /// SLP_TYPb for S5.
    public var s5SleepTypeB: UInt8
    /// The FADT's reset register when it is an I/O port.
    public var resetRegister: IOResetRegister?
    /// The FADT's SMI_CMD port, dropped like 0xB2 (the hypervisor switched
    /// the machine to ACPI mode before the guest: no guest needs an SMI).
    public var smiCommandPort: UInt16?
    /// The FADT's PM1a and PM1b event blocks (status, enable): real chipset
    /// registers here, so never taken for an emulator's port.
    public var pm1aEventPorts: ClosedRange<UInt16>?
    public var pm1bEventPorts: ClosedRange<UInt16>?

    /// True once this guest was told a sleep state was refused.
    public private(set) var hasReportedSleepRefusal = false
    /// System control port A as this guest last wrote it (bit 1: A20). The
    /// real port always keeps A20 on: with it off, every host access to an
    /// address with bit 20 set would land 1 MiB lower.
    public private(set) var systemControlA: UInt8 = 0x02
    /// Bytes of "Shutdown" seen in a row at Bochs's port 0x8900 (its BIOS's
    /// APM power-off writes them): all eight end the guest as a power-off.
    public private(set) var shutdownPortProgress: UInt8 = 0
    /// The 8042 was told "write output port" (0xD1): its next data byte
    /// (port 0x60) sets the reset line (bit 0) and A20 (bit 1).
    public private(set) var expectsOutputPortByte = false

    public static let defaultDebugPort: UInt16 = 0xE9
    /// 0xCF8: PCI CONFIG_ADDRESS (32-bit accesses only).
    public static let pciConfigAddressPort: UInt16 = 0xCF8
    /// 0xCF9: reset control register; bit 2 SYS_RST starts the reset.
    public static let resetControlPort: UInt16 = 0xCF9
    /// 0x92: system control port A; bit 0 fast reset, bit 1 A20.
    public static let systemControlPortA: UInt16 = 0x92
    /// 0x64: 8042 keyboard controller command port.
    public static let keyboardControllerCommandPort: UInt16 = 0x64
    /// 0x60: 8042 data port (the output-port byte after command 0xD1).
    public static let keyboardControllerDataPort: UInt16 = 0x60
    /// 8042 command: write the next data byte to the output port.
    static let writeOutputPortCommand: UInt8 = 0xD1
    /// 8042 command on some controllers: disable A20.
    static let disableA20Command: UInt8 = 0xDD
    /// 0xB2: APM_CNT, a write raises an SMI.
    public static let apmControlPort: UInt16 = 0xB2
    /// COM2, the hypervisor's verdict UART: no guest access reaches it.
    public static let verdictUARTPorts: ClosedRange<UInt16> = 0x2F8...0x2FF
    /// True for the ports with which a guest could end or stop the
    /// emulator behind the hypervisor's back.
    public static func isEmulatorPort(_ port: UInt16) -> Bool {
        var index = 0
        while let range = emulatorPorts(index) {
            if range.contains(port) { return true }
            index += 1
        }
        return false
    }

    /// The `index`th range of emulator ports, nil past the last.
    static func emulatorPorts(_ index: Int) -> ClosedRange<UInt16>? {
        switch index {
        case 0: 0x8900...0x8900  // Bochs: "Shutdown" written byte by byte powers off
        case 1: 0x8A00...0x8A01  // Bochs I/O debugger interface (can stop in the debugger)
        case 2: 0x0400...0x0401  // Bochs BIOS panic ports (a word write panics; fatal in our runs)
        case 3: 0x0604...0x0605  // QEMU q35 (and SeaBIOS i440FX) PM1a control
        case 4: 0xB004...0xB005  // older Bochs/QEMU PIIX4 PM1a control
        case 5: 0x0501...0x0502  // QEMU isa-debug-exit (default iobase), Bochs VGA BIOS panic
        case 6: 0x00F4...0x00F4  // isa-debug-exit as commonly configured (iobase=0xf4)
        default: nil
        }
    }

    /// Calls `body` with every port `intercepts` can be true for (and
    /// maybe some it is not): the ports the rules name, the PM1 control
    /// registers, the dropped ranges. Filling the I/O bitmaps from these
    /// instead of asking about all 65,536 ports saved 4.1 million
    /// instructions at every boot under Bochs; a test holds the two ways
    /// equal for varied machines.
    public func forEachInterceptCandidate(_ body: (UInt16) -> Void) {
        body(debugPort)
        body(Self.resetControlPort)
        body(Self.systemControlPortA)
        body(Self.keyboardControllerCommandPort)
        body(Self.keyboardControllerDataPort)
        body(Self.apmControlPort)
        if let reset = resetRegister { body(reset.port) }
        if let smi = smiCommandPort { body(smi) }
        if let pm1a = pm1aControlPort { body(pm1a); body(pm1a &+ 1) }
        if let pm1b = pm1bControlPort { body(pm1b); body(pm1b &+ 1) }
        for port in Self.verdictUARTPorts { body(port) }
        var index = 0
        while let range = Self.emulatorPorts(index) {
            for port in range { body(port) }
            index += 1
        }
    }

    public init(debugPort: UInt16 = IOPolicy.defaultDebugPort, pm1aControlPort: UInt16? = nil,
                s5SleepType: UInt8 = 0, pm1bControlPort: UInt16? = nil, s5SleepTypeB: UInt8 = 0,
                resetRegister: IOResetRegister? = nil, pm1aEventPorts: ClosedRange<UInt16>? = nil,
                pm1bEventPorts: ClosedRange<UInt16>? = nil, smiCommandPort: UInt16? = nil) {
        self.debugPort = debugPort
        self.pm1aControlPort = pm1aControlPort
        self.s5SleepType = s5SleepType
        self.pm1bControlPort = pm1bControlPort
        self.s5SleepTypeB = s5SleepTypeB
        self.resetRegister = resetRegister
        self.pm1aEventPorts = pm1aEventPorts
        self.pm1bEventPorts = pm1bEventPorts
        self.smiCommandPort = smiCommandPort
    }

    /// A new guest: the sleep refusal will be reported again.
    public mutating func startGuest() {
        hasReportedSleepRefusal = false
        systemControlA = 0x02
        expectsOutputPortByte = false
        shutdownPortProgress = 0
    }

    /// Bochs's "Shutdown" port (the first emulator port): its BIOS's APM
    /// power-off (INT 15h AX=5307h, all devices, state off) writes the
    /// eight bytes of "Shutdown" there, then halts. Bochs would end at
    /// once, behind the hypervisor's back, so the port is dropped; the whole
    /// word is taken as the guest's power-off request instead (a DOS guest's
    /// FDAPM POWEROFF goes this way under Bochs, and through ACPI S5 under
    /// QEMU's SeaBIOS).
    static let shutdownPort: UInt16 = 0x8900
    static let shutdownWord: StaticString = "Shutdown"

    /// True when this byte-sized OUT to the shutdown port completes the
    /// word (and the port is not this machine's PM1 register).
    mutating func completesShutdownWord(_ io: PortIO) -> Bool {
        guard io.port == Self.shutdownPort, io.size == 1, !io.isIn, !io.isString, isDropped(io.port) else { return false }
        let byte = UInt8(truncatingIfNeeded: io.value)
        let word = Self.shutdownWord.utf8Start
        if byte == word[Int(shutdownPortProgress)] {
            shutdownPortProgress += 1
        } else {
            shutdownPortProgress = byte == word[0] ? 1 : 0
        }
        guard Int(shutdownPortProgress) == Self.shutdownWord.utf8CodeUnitCount else { return false }
        shutdownPortProgress = 0
        return true
    }

    // MARK: - Which ports

    /// True when `port` is one this policy intercepts (its bit in the I/O
    /// bitmaps is set).
    public func intercepts(_ port: UInt16) -> Bool {
        port == debugPort || port == Self.resetControlPort || port == Self.systemControlPortA
            || port == Self.keyboardControllerCommandPort || port == Self.keyboardControllerDataPort
            || port == resetRegister?.port
            || pm1ControlBlock(of: port) != nil || isDropped(port)
    }

    /// Which PM1 control block `port` belongs to: (SLP_TYP of S5, offset of
    /// `port` in the 16-bit register), or nil.
    func pm1ControlBlock(of port: UInt16) -> (s5: UInt8, offset: UInt16)? {
        if let pm1a = pm1aControlPort, port &- pm1a < 2 { return (s5SleepType, port &- pm1a) }
        if let pm1b = pm1bControlPort, port &- pm1b < 2 { return (s5SleepTypeB, port &- pm1b) }
        return nil
    }

    /// Ports whose OUTs are dropped and INs read all ones: COM2, 0xB2, and
    /// the emulator ports that are not this machine's PM1 registers.
    public func isDropped(_ port: UInt16) -> Bool {
        if Self.verdictUARTPorts.contains(port) || port == Self.apmControlPort || port == smiCommandPort {
            return true
        }
        guard Self.isEmulatorPort(port), pm1ControlBlock(of: port) == nil else { return false }
        return !(pm1aEventPorts?.contains(port) ?? false) && !(pm1bEventPorts?.contains(port) ?? false)
    }

    // MARK: - Rules

    /// The reset an OUT of `byte` to `port` asks for, if any (rule 3).
    func isResetRequest(port: UInt16, byte: UInt8, io: PortIO) -> Bool {
        if let reset = resetRegister, port == reset.port, byte == reset.value { return true }
        switch port {
        case Self.resetControlPort:
            let isConfigAddress = io.size == 4 && io.port == Self.pciConfigAddressPort
            return !isConfigAddress && byte & 0x04 != 0
        case Self.systemControlPortA:
            return byte & 0x01 != 0
        case Self.keyboardControllerCommandPort:
            // 0xF0-0xFF: pulse output lines 3:0 for each 0 bit; line 0 is
            // the CPU reset.
            return byte & 0xF0 == 0xF0 && byte & 0x01 == 0
        case Self.keyboardControllerDataPort:
            // The output-port byte after 0xD1: bit 0 is the reset line
            // (active low).
            return expectsOutputPortByte && byte & 0x01 == 0
        default:
            return false
        }
    }

    /// Whether `io` is an OUT that sets SLP_EN with SLP_TYP = S5 in a PM1
    /// control register (`PM1Control`: both fields are in the high byte, at
    /// port + 1).
    public func isPowerOffRequest(_ io: PortIO) -> Bool {
        if case .powerOff = sleepRequest(io) { return true }
        return false
    }

    enum SleepRequest: Equatable {
        case none
        case powerOff
        case refused(sleepType: UInt8)
    }

    /// Rule 4 for an OUT.
    func sleepRequest(_ io: PortIO) -> SleepRequest {
        guard !io.isIn, !io.isString, io.size != 0 else { return .none }
        for index in 0..<UInt16(io.size) {
            let port = io.port &+ index
            guard let block = pm1ControlBlock(of: port), block.offset == 1 else { continue }
            // This byte is the register's high byte (SLP_EN and SLP_TYP).
            let high = UInt16(truncatingIfNeeded: io.value >> (UInt32(index) * 8)) & 0xFF
            let control = PM1Control(rawValue: high << 8)
            guard control.sleepEnable else { continue }
            return control.sleepType == block.s5 & 0x7 ? .powerOff : .refused(sleepType: control.sleepType)
        }
        return .none
    }

    public mutating func handle<Console: HypervisorConsole>(
        _ io: PortIO, registers: inout GuestRegisters, console: inout Console
    ) -> ExitAction {
        if quickHandle(io, registers: &registers) { return .advance }
        if io.port == debugPort && io.size == 1 && !io.isString {
            withUnsafeBytes(of: UInt8(truncatingIfNeeded: io.value)) { console.guestOutput($0) }
            return .advance
        }
        guard !io.isString, io.size != 0 else { return .stopGuest(.unhandledPortIO(io)) }
        var touchesWatched = false, touchesDropped = false
        for index in 0..<UInt16(io.size) {
            let port = io.port &+ index
            touchesWatched = touchesWatched || intercepts(port)
            touchesDropped = touchesDropped || isDropped(port)
            if port == debugPort { return .stopGuest(.unhandledPortIO(io)) }
            if !io.isIn {
                let byte = UInt8(truncatingIfNeeded: io.value >> (UInt32(index) * 8))
                if isResetRequest(port: port, byte: byte, io: io) {
                    return .stopGuest(.resetRequested(port: port, value: UInt32(byte)))
                }
            }
        }
        guard touchesWatched else { return .stopGuest(.unhandledPortIO(io)) }
        if completesShutdownWord(io) { return .stopGuest(.guestPowerOff(status: 0)) }
        if let a20 = keepA20(io, registers: &registers) { return a20 }
        switch sleepRequest(io) {
        case .powerOff:
            return .stopGuest(.guestPowerOff(status: 0))
        case .refused(let sleepType):
            if !hasReportedSleepRefusal {
                hasReportedSleepRefusal = true
                console.write(Message("pxhv: guest: sleep state refused (SLP_TYP \(sleepType))\n"))
            }
            return .advance
        case .none:
            break
        }
        if touchesDropped {
            if io.isIn { registers.rax = Self.portInResult(rax: registers.rax, value: .max, size: io.size) }
            return .advance
        }
        return .forwardPortIO(io)
    }

    /// The accesses `handle` answers with `.advance` and nothing out of
    /// line: an IN of a byte from the debug port (it reads the port's
    /// number, as Bochs's and QEMU's debug ports do). Answers it and
    /// returns true; false, with nothing done, for every other access. The
    /// fast exit path answers with it.
    @inline(__always)
    public func quickHandle(_ io: PortIO, registers: inout GuestRegisters) -> Bool {
        guard io.port == debugPort && io.size == 1 && !io.isString && io.isIn else { return false }
        registers.rax = (registers.rax & ~0xFF) | UInt64(UInt8(truncatingIfNeeded: debugPort))
        return true
    }

    /// A20 stays on in the hardware whatever the guest does (rule 6's
    /// exception): port 0x92 is emulated (an OUT is forwarded with bit 1
    /// set, and reads return what the guest wrote), 8042 command 0xDD
    /// (disable A20) is dropped, and the output-port byte after 0xD1 is
    /// forwarded with bit 1 set. Nil for every other access.
    mutating func keepA20(_ io: PortIO, registers: inout GuestRegisters) -> ExitAction? {
        if io.port == Self.systemControlPortA && io.size == 1 {
            if io.isIn {
                registers.rax = Self.portInResult(rax: registers.rax, value: UInt32(systemControlA), size: 1)
                return .advance
            }
            systemControlA = UInt8(truncatingIfNeeded: io.value)
            return .forwardPortIO(PortIO(port: io.port, size: 1, isIn: false, value: io.value | 0x02))
        }
        guard !io.isIn else { return nil }
        if io.port == Self.keyboardControllerCommandPort && io.size == 1 {
            let command = UInt8(truncatingIfNeeded: io.value)
            expectsOutputPortByte = command == Self.writeOutputPortCommand
            return command == Self.disableA20Command ? .advance : .forwardPortIO(io)
        }
        if io.port == Self.keyboardControllerDataPort && io.size == 1 && expectsOutputPortByte {
            expectsOutputPortByte = false
            return .forwardPortIO(PortIO(port: io.port, size: 1, isIn: false, value: io.value | 0x02))
        }
        // Wider accesses that reach 0x92 or the 8042 are not something a
        // PC does: refuse them rather than forward a cleared A20 bit.
        // (In 32 bits: an access at 0xFFFE of 4 bytes must not overflow.)
        // (No array of the three ports: that would allocate on every exit.)
        let first = UInt32(io.port), last = UInt32(io.port) + UInt32(io.size) - 1
        let covers = { (port: UInt16) in UInt32(port) >= first && UInt32(port) <= last }
        if io.size > 1 && (covers(Self.systemControlPortA) || covers(Self.keyboardControllerCommandPort)
                           || covers(Self.keyboardControllerDataPort)) {
            return .advance
        }
        return nil
    }

    /// RAX after an IN of `size` bytes that read `value`: 8- and 16-bit INs
    /// replace the low byte or word and keep the rest; a 32-bit IN writes
    /// EAX, which clears bits 63:32 (a 32-bit register write zero-extends).
    ///
    /// Intel SDM Vol. 1, "General-Purpose Registers in 64-Bit Mode" (3.4.1.1
    /// in rev. 84); Vol. 2A, "IN—Input From Port"
    public static func portInResult(rax: UInt64, value: UInt32, size: UInt8) -> UInt64 {
        switch size {
        case 1: return (rax & ~0xFF) | UInt64(value & 0xFF)
        case 2: return (rax & ~0xFFFF) | UInt64(value & 0xFFFF)
        default: return UInt64(value)
        }
    }
}

/// The FADT's RESET_REG when it is in system I/O space: writing `value` to
/// `port` resets the machine.
public struct IOResetRegister: Equatable, Sendable {
    public var port: UInt16
    public var value: UInt8
    public init(port: UInt16, value: UInt8) {
        self.port = port
        self.value = value
    }
}

/// Fills the two 4 KiB I/O bitmaps: A covers ports 0x0000-0x7FFF, B
/// 0x8000-0xFFFF, one bit per port (1 = exit). Sets the ports `policy`
/// intercepts (asked about each of its candidates,
/// `IOPolicy.forEachInterceptCandidate`), clears the rest.
///
/// Intel SDM Vol. 3C, "I/O-Bitmap Addresses" (25.6.4 in rev. 84)
public func fillIOBitmaps(a: UnsafeMutableRawBufferPointer, b: UnsafeMutableRawBufferPointer, policy: IOPolicy) {
    precondition(a.count >= 4096 && b.count >= 4096, "each I/O bitmap is 4 KiB")
    for index in 0..<4096 { a[index] = 0; b[index] = 0 }
    policy.forEachInterceptCandidate { port in
        guard policy.intercepts(port) else { return }
        let index = Int(port & 0x7FFF)
        let mask: UInt8 = 1 << UInt8(index % 8)
        if port < 0x8000 { a[index / 8] |= mask } else { b[index / 8] |= mask }
    }
}
