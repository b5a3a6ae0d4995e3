import Testing
@testable import VMExit

@Suite("I/O policy")
struct IOPolicyTests {
    /// Bochs 2.7 (rombios, PIIX4): PM1a control 0xB004, PM1a event 0xB000-0xB003, S5 = 0.
    var policy = IOPolicy(pm1aControlPort: 0xB004, s5SleepType: 0, pm1aEventPorts: 0xB000...0xB003)
    var console = FakeConsole()
    var registers = GuestRegisters()

    mutating func handle(_ io: PortIO) -> ExitAction {
        policy.handle(io, registers: &registers, console: &console)
    }

    static func out(_ port: UInt16, _ value: UInt32, size: UInt8 = 1) -> PortIO {
        PortIO(port: port, size: size, isIn: false, value: value)
    }

    static func input(_ port: UInt16, size: UInt8 = 1) -> PortIO {
        PortIO(port: port, size: size, isIn: true)
    }

    @Test("OUT byte to 0xE9 goes to the console; IN byte reads 0xE9")
    mutating func debugPort() {
        for byte in "ok\n".utf8 { #expect(handle(Self.out(0xE9, UInt32(byte))) == .advance) }
        #expect(console.guestText == "ok\n" && console.bytes.isEmpty)
        registers.rax = 0x1234_5600
        #expect(handle(Self.input(0xE9)) == .advance)
        #expect(registers.rax == 0x1234_56E9)
    }

    @Test("S5 (SLP_EN | SLP_TYP) written to PM1a control stops the guest with status 0; without SLP_EN: forwarded")
    mutating func powerOff() {
        #expect(handle(Self.out(0xB004, 0x2000, size: 2)) == .stopGuest(.guestPowerOff(status: 0)))
        // Byte write of the high half (SLP_EN = bit 5 there); a dword at PM1a.
        #expect(handle(Self.out(0xB005, 0x20)) == .stopGuest(.guestPowerOff(status: 0)))
        #expect(handle(Self.out(0xB004, 0x2001, size: 4)) == .stopGuest(.guestPowerOff(status: 0)))
        let sciEnable = Self.out(0xB004, 0x0001, size: 2)
        #expect(handle(sciEnable) == .forwardPortIO(sciEnable))
        let read = Self.input(0xB004, size: 2)
        #expect(handle(read) == .forwardPortIO(read))
        let qemu = IOPolicy(pm1aControlPort: 0x604, s5SleepType: 5)
        #expect(qemu.isPowerOffRequest(Self.out(0x604, 0x3400, size: 2)))
        #expect(!qemu.isPowerOffRequest(Self.out(0x604, 0x1400, size: 2)))
        #expect(console.bytes.isEmpty)
    }

    @Test("any other SLP_TYP with SLP_EN is dropped and reported once per guest; nothing with SLP_EN is forwarded")
    mutating func sleepRefused() {
        // S3 on QEMU-like SLP_TYP 1, as a word, then as the high byte.
        #expect(handle(Self.out(0xB004, 0x2401, size: 2)) == .advance)
        #expect(handle(Self.out(0xB005, 0x24)) == .advance)
        #expect(handle(Self.out(0xB004, 0x3C00, size: 2)) == .advance)
        #expect(console.text == "pxhv: guest: sleep state refused (SLP_TYP 1)\n")
        policy.startGuest()
        #expect(handle(Self.out(0xB004, 0x3C00, size: 2)) == .advance)
        #expect(console.text.hasSuffix("pxhv: guest: sleep state refused (SLP_TYP 7)\n"))
        for value: UInt32 in stride(from: 0, through: 0xFFFF, by: 1) where value & 0x2000 != 0 {
            var p = policy
            var r = GuestRegisters()
            var c = FakeConsole()
            let action = p.handle(Self.out(0xB004, value, size: 2), registers: &r, console: &c)
            if case .forwardPortIO = action { Issue.record("SLP_EN forwarded: \(value)") }
        }
    }

    @Test("PM1b: S5 with SLP_TYPb powers off, other types refused, plain writes forwarded")
    mutating func pm1b() {
        policy = IOPolicy(pm1aControlPort: 0x404, s5SleepType: 7, pm1bControlPort: 0x444, s5SleepTypeB: 5)
        #expect(handle(Self.out(0x444, 0x3400, size: 2)) == .stopGuest(.guestPowerOff(status: 0)))
        #expect(handle(Self.out(0x444, 0x3C00, size: 2)) == .advance)
        #expect(handle(Self.out(0x445, 0x01)) == .forwardPortIO(Self.out(0x445, 0x01)))
        #expect(policy.intercepts(0x444) && policy.intercepts(0x445) && !policy.intercepts(0x446))
    }

    @Test("reset: 0xCF9 bit 2, 0x92 bit 0, 8042 pulse of line 0, the FADT reset register; each reports port and byte")
    mutating func reset() {
        policy.resetRegister = IOResetRegister(port: 0x0C_F9, value: 0x0E)
        #expect(handle(Self.out(0xCF9, 0x06)) == .stopGuest(.resetRequested(port: 0xCF9, value: 0x06)))
        #expect(handle(Self.out(0xCF9, 0x0E)) == .stopGuest(.resetRequested(port: 0xCF9, value: 0x0E)))
        #expect(handle(Self.out(0x92, 0x03)) == .stopGuest(.resetRequested(port: 0x92, value: 0x03)))
        #expect(handle(Self.out(0x64, 0xFE)) == .stopGuest(.resetRequested(port: 0x64, value: 0xFE)))
        #expect(handle(Self.out(0x64, 0xF0)) == .stopGuest(.resetRequested(port: 0x64, value: 0xF0)))
        // A word OUT at 0xCF8 whose high byte lands on 0xCF9 with bit 2.
        #expect(handle(Self.out(0xCF8, 0x0400, size: 2)) == .stopGuest(.resetRequested(port: 0xCF9, value: 0x04)))
        var other = IOPolicy(resetRegister: IOResetRegister(port: 0x510, value: 0x01))
        var c = FakeConsole()
        #expect(other.handle(Self.out(0x510, 0x01), registers: &registers, console: &c)
                == .stopGuest(.resetRequested(port: 0x510, value: 0x01)))
        #expect(other.handle(Self.out(0x510, 0x02), registers: &registers, console: &c)
                == .forwardPortIO(Self.out(0x510, 0x02)))
    }

    @Test("not a reset: 32-bit CONFIG_ADDRESS at 0xCF8, 0xCF9 without bit 2, A20 on 0x92, other 8042 commands, every IN")
    mutating func notReset() {
        let forwarded: [PortIO] = [
            Self.out(0xCF8, 0x8000_FC04, size: 4), Self.input(0xCF8, size: 4), Self.out(0xCF9, 0x02),
            Self.input(0xCF9), Self.out(0x92, 0x02), Self.out(0x64, 0xD1), Self.out(0x64, 0xFF),
            Self.out(0x64, 0xF1), Self.out(0x64, 0xAE), Self.input(0x64),
        ]
        for io in forwarded { #expect(handle(io) == .forwardPortIO(io), "\(io)") }
    }

    @Test("A20 stays on in the hardware: 0x92 forwarded with bit 1 set and read back as written; 8042 0xDD dropped, the output-port byte after 0xD1 forwarded with bit 1 set, or a reset with bit 0 clear")
    mutating func a20StaysOn() {
        #expect(handle(Self.out(0x92, 0x00)) == .forwardPortIO(Self.out(0x92, 0x02)))
        registers.rax = 0xFFFF
        #expect(handle(Self.input(0x92)) == .advance)
        #expect(registers.rax == 0xFF00)  // the guest sees A20 off, as it asked
        #expect(handle(Self.out(0x64, 0xDD)) == .advance)
        #expect(handle(Self.out(0x64, 0xD1)) == .forwardPortIO(Self.out(0x64, 0xD1)))
        #expect(handle(Self.out(0x60, 0xDD)) == .forwardPortIO(Self.out(0x60, 0xDF)))
        #expect(handle(Self.out(0x60, 0x00)) == .forwardPortIO(Self.out(0x60, 0x00)))  // a keyboard byte, no command pending
        _ = handle(Self.out(0x64, 0xD1))
        #expect(handle(Self.out(0x60, 0xFC)) == .stopGuest(.resetRequested(port: 0x60, value: 0xFC)))
        #expect(handle(Self.out(0x92, 0x0000, size: 2)) == .advance)  // wider: never forwarded
    }

    /// Found by fuzz-dispatcher: a wide access at the top of the port space
    /// overflowed the A20 check's port arithmetic and trapped.
    @Test("a 32-bit access at 0xFFFE (a PM1a block at the top of the port space) is judged without overflow")
    func topOfPortSpace() {
        var top = IOPolicy(pm1aControlPort: 0xFFFE, s5SleepType: 5)
        var registers = GuestRegisters()
        var console = FakeConsole()
        let write = Self.out(0xFFFE, 0x0000_0001, size: 4)
        #expect(top.handle(write, registers: &registers, console: &console) == .forwardPortIO(write))
        let read = Self.input(0xFFFD, size: 4)
        #expect(top.handle(read, registers: &registers, console: &console) == .forwardPortIO(read))
    }

    @Test("dropped: COM2 (verdict UART), SMI port 0xB2, emulator shutdown ports; INs read all ones")
    mutating func dropped() {
        let ports: [UInt16] = [0x2F8, 0x2F9, 0x2FD, 0x2FF, 0xB2, 0x8900, 0x8A00, 0x400, 0x401, 0x604, 0x605,
                               0x501, 0x502, 0xF4]
        for port in ports {
            #expect(handle(Self.out(port, 0x53)) == .advance, "OUT \(port)")
            registers.rax = 0xAAAA_AAAA_AAAA_AA00
            #expect(handle(Self.input(port)) == .advance)
            #expect(registers.rax == 0xAAAA_AAAA_AAAA_AAFF, "IN \(port)")
            registers.rax = 0xAAAA_AAAA_AAAA_AAAA
            #expect(handle(Self.input(port, size: 4)) == .advance)
            #expect(registers.rax == 0xFFFF_FFFF, "IN dword \(port)")
        }
        #expect(handle(Self.out(0x2F8, 0x41_4141, size: 4)) == .advance)
        // The FADT's SMI_CMD, where it is not 0xB2 (AMD chipsets: 0xB0).
        let amd = IOPolicy(smiCommandPort: 0xB0)
        #expect(amd.isDropped(0xB0) && amd.isDropped(0xB2) && !policy.isDropped(0xB0))
        // A word at 0x2F7 that touches COM2's first port: dropped whole.
        #expect(handle(Self.out(0x2F7, 0x4141, size: 2)) == .advance)
        #expect(console.bytes.isEmpty)
    }

    @Test("\"Shutdown\" written byte by byte to Bochs's 0x8900 (its APM power-off) ends the guest as a power-off")
    mutating func bochsAPMShutdownWord() {
        func write(_ text: String) -> [ExitAction] { text.utf8.map { handle(Self.out(0x8900, UInt32($0))) } }
        let actions = write("Shutdown")
        #expect(actions.dropLast().allSatisfy { $0 == .advance })
        #expect(actions.last == .stopGuest(.guestPowerOff(status: 0)))
        // Broken, restarted, or in wider writes: nothing.
        #expect(write("Shutdow").allSatisfy { $0 == .advance })
        #expect(write("xShutdown").last == .stopGuest(.guestPowerOff(status: 0)), "restarts on 'S'")
        #expect(write("ShutSdown").last == .advance)
        #expect(write("SShutdown").last == .stopGuest(.guestPowerOff(status: 0)))
        #expect(handle(Self.out(0x8900, 0x6853, size: 2)) == .advance)
        // A new guest starts from nothing.
        _ = write("Shutdow")
        policy.startGuest()
        #expect(write("n").last == .advance)
        // Where 0x8900 is the machine's own register, it is not the word.
        var own = IOPolicy(pm1aControlPort: 0x8900, s5SleepType: 5)
        var sink = FakeConsole()
        var r = GuestRegisters()
        let last = "Shutdown".utf8.map { own.handle(Self.out(0x8900, UInt32($0)), registers: &r, console: &sink) }.last
        #expect(last != .stopGuest(.guestPowerOff(status: 0)))
    }

    @Test("an emulator port that is this machine's PM1a control or event block takes the PM1 rule")
    func emulatorPortsThatArePM1() {
        // Bochs: 0xB004 is the real PM1a; 0x604 is not.
        let bochs = IOPolicy(pm1aControlPort: 0xB004, s5SleepType: 0, pm1aEventPorts: 0xB000...0xB003)
        #expect(!bochs.isDropped(0xB004) && !bochs.isDropped(0xB005) && bochs.isDropped(0x604))
        // QEMU: the other way round.
        let qemu = IOPolicy(pm1aControlPort: 0x604, s5SleepType: 0, pm1aEventPorts: 0x600...0x603)
        #expect(!qemu.isDropped(0x604) && qemu.isDropped(0xB004))
        // A board with its PM base at 0x400: PM1a_STS at 0x400 is real.
        let board = IOPolicy(pm1aControlPort: 0x404, s5SleepType: 7, pm1aEventPorts: 0x400...0x403)
        #expect(!board.isDropped(0x400) && !board.isDropped(0x401) && !board.intercepts(0x400))
    }

    @Test("string forms, undefined sizes, a word to 0xE9 and ports nobody watches stop the guest")
    mutating func unhandled() {
        for io in [Self.out(0x3F8, 0x41), Self.out(0xE9, 0x4141, size: 2),
                   PortIO(port: 0xE9, size: 1, isIn: false, isString: true, isREP: true),
                   PortIO(port: 0xCF9, size: 1, isIn: false, isString: true), Self.out(0x92, 1, size: 0)] {
            #expect(handle(io) == .stopGuest(.unhandledPortIO(io)))
        }
        #expect(console.bytes.isEmpty)
    }

    @Test("a forwarded IN: 8/16-bit keep the rest of RAX, 32-bit zero-extends")
    func portInResult() {
        let rax: UInt64 = 0x1122_3344_5566_7788
        #expect(IOPolicy.portInResult(rax: rax, value: 0xAB, size: 1) == 0x1122_3344_5566_77AB)
        #expect(IOPolicy.portInResult(rax: rax, value: 0xABCD, size: 2) == 0x1122_3344_5566_ABCD)
        #expect(IOPolicy.portInResult(rax: rax, value: 0xDEAD_BEEF, size: 4) == 0xDEAD_BEEF)
    }

    @Test("bitmaps: the candidates cover every port intercepts() is true for, on varied machines")
    func candidatesCoverEveryInterceptedPort() {
        let machines = [
            IOPolicy(),
            IOPolicy(pm1aControlPort: 0xB004, s5SleepType: 0, pm1aEventPorts: 0xB000...0xB003),
            IOPolicy(debugPort: 0x402, pm1aControlPort: 0x604, s5SleepType: 5, pm1bControlPort: 0x1804,
                     s5SleepTypeB: 7, resetRegister: IOResetRegister(port: 0xCF9, value: 6),
                     pm1aEventPorts: 0x600...0x603, pm1bEventPorts: 0x1800...0x1803, smiCommandPort: 0xB2),
            IOPolicy(pm1aControlPort: 0xFFFF, s5SleepType: 1, resetRegister: IOResetRegister(port: 0x8900, value: 1),
                     smiCommandPort: 0x52E),
        ]
        for policy in machines {
            var candidates = Set<UInt16>()
            policy.forEachInterceptCandidate { candidates.insert($0) }
            for port in 0...UInt16.max where policy.intercepts(port) {
                #expect(candidates.contains(port), "port \(port) is intercepted but no candidate")
            }
        }
    }

    @Test("bitmaps: exactly the watched ports (Bochs machine)")
    func bitmaps() {
        var a = [UInt8](repeating: 0xFF, count: 4096)
        var b = [UInt8](repeating: 0xFF, count: 4096)
        let bochs = IOPolicy(pm1aControlPort: 0xB004, s5SleepType: 0, pm1aEventPorts: 0xB000...0xB003)
        a.withUnsafeMutableBytes { a in b.withUnsafeMutableBytes { b in fillIOBitmaps(a: a, b: b, policy: bochs) } }
        func set(_ port: UInt16) -> Bool {
            let index = Int(port & 0x7FFF)
            return (port < 0x8000 ? a : b)[index / 8] & (1 << UInt8(index % 8)) != 0
        }
        let expected: Set<UInt16> = Set([0xE9, 0xCF9, 0x92, 0x64, 0x60, 0xB2, 0xB004, 0xB005, 0x8900, 0x8A00, 0x8A01,
                                         0x400, 0x401, 0x604, 0x605, 0x501, 0x502, 0xF4] + Array(0x2F8...0x2FF))
        for port in 0...UInt16.max { #expect(set(port) == expected.contains(port), "port \(port)") }
        #expect(!set(0xCF8) && !set(0xCFC) && !set(0x3F8) && !set(0xB000))
    }
}
