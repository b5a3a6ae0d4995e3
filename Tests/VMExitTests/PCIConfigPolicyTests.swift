import Testing
@testable import VMExit

/// A bus 0 like Bochs's i440FX (host bridge 00:00.0, PIIX4 ISA 00:01.0,
/// IDE 00:01.1, PM 00:01.3 with PMBA 0xB001 and PMREGMISC 1) or QEMU's q35
/// (ICH9 LPC 00:1f.0 with PMBASE 0x601 and ACPI_CNTL 0x80).
struct FakeConfigSpace {
    var dwords: [UInt32: UInt32] = [:]

    static func key(_ device: UInt8, _ function: UInt8, _ offset: UInt8) -> UInt32 {
        UInt32(device) << 16 | UInt32(function) << 8 | UInt32(offset)
    }

    func read(_ bus: UInt8, _ device: UInt8, _ function: UInt8, _ offset: UInt8) -> UInt32 {
        guard bus == 0 else { return 0xFFFF_FFFF }
        return dwords[Self.key(device, function, offset)] ?? (dwords[Self.key(device, function, 0)] == nil ? 0xFFFF_FFFF : 0)
    }

    static var i440fx: FakeConfigSpace {
        var space = FakeConfigSpace()
        space.dwords[key(0, 0, 0)] = 0x1237_8086
        space.dwords[key(1, 0, 0)] = 0x7000_8086
        space.dwords[key(1, 0, 0x0C)] = 0x0080_0000  // multi-function
        space.dwords[key(1, 1, 0)] = 0x7010_8086
        space.dwords[key(1, 1, 0x40)] = 0x8000_8000  // IDE timing, not an I/O BAR
        space.dwords[key(1, 3, 0)] = 0x7113_8086
        space.dwords[key(1, 3, 0x40)] = 0x0000_B001  // PMBA
        space.dwords[key(1, 3, 0x80)] = 0x0000_0001  // PMREGMISC.PMIOSE
        space.dwords[key(1, 3, 0x90)] = 0x0000_B101  // SMBus base: another block
        return space
    }

    static var q35: FakeConfigSpace {
        var space = FakeConfigSpace()
        space.dwords[key(0, 0, 0)] = 0x29C0_8086
        space.dwords[key(31, 0, 0)] = 0x2918_8086
        space.dwords[key(31, 0, 0x0C)] = 0x0080_0000
        space.dwords[key(31, 0, 0x40)] = 0x0000_0601  // PMBASE
        space.dwords[key(31, 0, 0x44)] = 0x0000_0080  // ACPI_CNTL.ACPI_EN
        return space
    }
}

@Suite("PCI configuration filter")
struct PCIConfigPolicyTests {
    @Test("PIIX4 (Bochs): PMBA and PMREGMISC of 00:01.3 are found, nothing else")
    func locatesPIIX4() {
        let space = FakeConfigSpace.i440fx
        let found = PCIConfigPolicy.locatePowerManagementBlock(pm1aControlPort: 0xB004, read: space.read)
        #expect(found == [
            PCIConfigPolicy.Register(bus: 0, device: 1, function: 3, offset: 0x40, length: 4),
            PCIConfigPolicy.Register(bus: 0, device: 1, function: 3, offset: 0x80, length: 1),
        ])
    }

    @Test("ICH9 (q35): PMBASE and ACPI_CNTL of 00:1f.0")
    func locatesICH9() {
        let space = FakeConfigSpace.q35
        let found = PCIConfigPolicy.locatePowerManagementBlock(pm1aControlPort: 0x604, read: space.read)
        #expect(found == [
            PCIConfigPolicy.Register(bus: 0, device: 31, function: 0, offset: 0x40, length: 4),
            PCIConfigPolicy.Register(bus: 0, device: 31, function: 0, offset: 0x44, length: 1),
        ])
    }

    static func policy() -> PCIConfigPolicy {
        PCIConfigPolicy(protecting: PCIConfigPolicy.locatePowerManagementBlock(
            pm1aControlPort: 0xB004, read: FakeConfigSpace.i440fx.read))
    }

    static func out(_ port: UInt16, _ size: UInt8, _ value: UInt32) -> PortIO {
        PortIO(port: port, size: size, isIn: false, value: value)
    }

    @Test("a write moving PMBA is dropped, in any width and at any byte of it")
    func relocationDropped() {
        var policy = Self.policy()
        #expect(policy.handle(Self.out(0xCF8, 4, 0x8000_0B40)) == .forwardPortIO(Self.out(0xCF8, 4, 0x8000_0B40)))
        #expect(policy.address == 0x8000_0B40)
        #expect(policy.handle(Self.out(0xCFC, 4, 0x0000_C001)) == .advance)
        #expect(policy.handle(Self.out(0xCFD, 1, 0xC0)) == .advance)
        #expect(policy.handle(Self.out(0xCFE, 2, 0)) == .advance)
        _ = policy.handle(Self.out(0xCF8, 4, 0x8000_0B80))  // PMREGMISC
        #expect(policy.handle(Self.out(0xCFC, 1, 0)) == .advance)
        #expect(policy.droppedWrites == 4)
    }

    @Test("reads, other registers, other functions and disabled cycles are forwarded")
    func othersForwarded() {
        var policy = Self.policy()
        _ = policy.handle(Self.out(0xCF8, 4, 0x8000_0B40))
        let read = PortIO(port: 0xCFC, size: 4, isIn: true)
        #expect(policy.handle(read) == .forwardPortIO(read))
        _ = policy.handle(Self.out(0xCF8, 4, 0x8000_0B44))  // next dword of the PM function
        #expect(policy.handle(Self.out(0xCFC, 4, 1)) == .forwardPortIO(Self.out(0xCFC, 4, 1)))
        _ = policy.handle(Self.out(0xCF8, 4, 0x8000_0940))  // 00:01.1 offset 0x40 (IDE)
        #expect(policy.handle(Self.out(0xCFC, 4, 1)) == .forwardPortIO(Self.out(0xCFC, 4, 1)))
        _ = policy.handle(Self.out(0xCF8, 4, 0x0000_0B40))  // bit 31 clear: no configuration cycle
        #expect(policy.handle(Self.out(0xCFC, 4, 1)) == .forwardPortIO(Self.out(0xCFC, 4, 1)))
        #expect(policy.droppedWrites == 0)
    }

    @Test("CONFIG_DATA needs exits only while CONFIG_ADDRESS selects the PM function")
    func dataPortExits() {
        var policy = Self.policy()
        #expect(!policy.dataPortsNeedExits)  // address 0: cycles disabled
        _ = policy.handle(Self.out(0xCF8, 4, 0x8000_0940))  // 00:01.1
        #expect(!policy.dataPortsNeedExits)
        _ = policy.handle(Self.out(0xCF8, 4, 0x8000_0B08))  // 00:01.3, any register of it
        #expect(policy.dataPortsNeedExits)
        _ = policy.handle(Self.out(0xCF8, 4, 0x0000_0B40))  // cycles disabled
        #expect(!policy.dataPortsNeedExits)
        #expect(!PCIConfigPolicy(protecting: []).dataPortsNeedExits)
    }

    @Test("ownership: 0xCF9 (reset control) stays with the I/O policy")
    func ownership() {
        #expect(PCIConfigPolicy.owns(Self.out(0xCF8, 4, 0)))
        #expect(PCIConfigPolicy.owns(Self.out(0xCFF, 1, 0)))
        #expect(PCIConfigPolicy.owns(Self.out(0xCFA, 2, 0)))
        #expect(!PCIConfigPolicy.owns(Self.out(0xCF9, 1, 6)))
        #expect(!PCIConfigPolicy.owns(Self.out(0xCF8, 2, 0x600)))
        #expect(!PCIConfigPolicy.owns(Self.out(0x3F8, 1, 0)))
    }
}
