import Testing
@testable import VMExit

@Suite("I/O policy")
struct IOPolicyTests {
    let policy = IOPolicy(pm1aControlPort: 0xB004, s5SleepType: 0)

    @Test("OUT byte to 0xE9 goes to the console; IN byte reads 0xE9")
    func debugPort() {
        var console = FakeConsole()
        var registers = GuestRegisters()
        for byte in "ok\n".utf8 {
            #expect(policy.handle(PortIO(port: 0xE9, size: 1, isIn: false, value: UInt32(byte)),
                                  registers: &registers, console: &console) == .advance)
        }
        #expect(console.guestText == "ok\n" && console.bytes.isEmpty)
        registers.rax = 0x1234_5600
        #expect(policy.handle(PortIO(port: 0xE9, size: 1, isIn: true), registers: &registers, console: &console) == .advance)
        #expect(registers.rax == 0x1234_56E9)
    }

    @Test("S5 (SLP_EN | SLP_TYP) written to PM1a control stops the guest with status 0; other accesses are forwarded")
    func powerOff() {
        var console = FakeConsole()
        var registers = GuestRegisters()
        let s5 = PortIO(port: 0xB004, size: 2, isIn: false, value: 0x2000)
        #expect(policy.handle(s5, registers: &registers, console: &console) == .stopGuest(.guestPowerOff(status: 0)))
        // Byte write of the high half (SLP_EN = bit 5 there).
        let s5High = PortIO(port: 0xB005, size: 1, isIn: false, value: 0x20)
        #expect(policy.handle(s5High, registers: &registers, console: &console) == .stopGuest(.guestPowerOff(status: 0)))
        let sciEnable = PortIO(port: 0xB004, size: 2, isIn: false, value: 0x0001)
        #expect(policy.handle(sciEnable, registers: &registers, console: &console) == .forwardPortIO(sciEnable))
        let read = PortIO(port: 0xB004, size: 2, isIn: true)
        #expect(policy.handle(read, registers: &registers, console: &console) == .forwardPortIO(read))
        // SLP_TYP 5 (QEMU's S5 value) with this policy's SLP_TYP 0: not S5.
        let otherType = PortIO(port: 0xB004, size: 2, isIn: false, value: 0x3400)
        #expect(policy.handle(otherType, registers: &registers, console: &console) == .forwardPortIO(otherType))
        let qemu = IOPolicy(pm1aControlPort: 0x604, s5SleepType: 5)
        #expect(qemu.isPowerOffRequest(PortIO(port: 0x604, size: 2, isIn: false, value: 0x3400)))
        #expect(!qemu.isPowerOffRequest(PortIO(port: 0x604, size: 2, isIn: false, value: 0x1400)))
    }

    @Test("anything else stops the guest: other ports, word OUT to 0xE9, OUTS")
    func unhandled() {
        var console = FakeConsole()
        var registers = GuestRegisters()
        for io in [PortIO(port: 0x3F8, size: 1, isIn: false, value: 0x41),
                   PortIO(port: 0xE9, size: 2, isIn: false, value: 0x4141),
                   PortIO(port: 0xE9, size: 1, isIn: false, isString: true, isREP: true)] {
            #expect(policy.handle(io, registers: &registers, console: &console) == .stopGuest(.unhandledPortIO(io)))
        }
        #expect(IOPolicy().handle(PortIO(port: 0xB004, size: 2, isIn: false, value: 0x2000),
                                  registers: &registers, console: &console)
                == .stopGuest(.unhandledPortIO(PortIO(port: 0xB004, size: 2, isIn: false, value: 0x2000))))
        #expect(console.bytes.isEmpty)
    }

    @Test("bitmaps: 0xE9 in A, PM1a ports 0xB004/0xB005 in B, nothing else")
    func bitmaps() {
        var a = [UInt8](repeating: 0xFF, count: 4096)
        var b = [UInt8](repeating: 0xFF, count: 4096)
        a.withUnsafeMutableBytes { a in b.withUnsafeMutableBytes { b in fillIOBitmaps(a: a, b: b, policy: policy) } }
        #expect(a[0xE9 / 8] == 1 << (0xE9 % 8))
        #expect(b[0x3004 / 8] == 0b0011_0000)
        #expect(a.reduce(0) { $0 + $1.nonzeroBitCount } == 1)
        #expect(b.reduce(0) { $0 + $1.nonzeroBitCount } == 2)
        let low = IOPolicy(pm1aControlPort: 0x604, s5SleepType: 5)
        a.withUnsafeMutableBytes { a in b.withUnsafeMutableBytes { b in fillIOBitmaps(a: a, b: b, policy: low) } }
        #expect(a[0x604 / 8] == 0b0011_0000 && a.reduce(0) { $0 + $1.nonzeroBitCount } == 3)
        #expect(b.allSatisfy { $0 == 0 })
    }
}
