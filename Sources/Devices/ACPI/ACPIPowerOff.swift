import Primitives

/// How to switch this machine off: write SLP_TYP for S5 with SLP_EN to the
/// PM1 control port(s).
///
/// ```swift
/// let acpi = try ACPIPowerOff.discover(in: IdentityMemory())
/// // ... on the guest's S5 write, or at the end:
/// acpi.powerOff(&ports)
/// ```
///
/// On QEMU (SeaBIOS, i440FX/PIIX4 and Q35/ICH9): PM1a 0x604, no PM1b,
/// S5 = {0, 0}. On Bochs 2.7 (rombios, PIIX4): PM1a 0xB004, no PM1b,
/// S5 = {0, 0}. (Read from captured tables: see DevicesTests.)
public struct ACPIPowerOff: Hashable, Sendable {
    public var pm1aControlPort: UInt16
    public var pm1bControlPort: UInt16?
    /// SLP_TYPa for S5.
    public var slpTypA: UInt8
    /// SLP_TYPb for S5.
    public var slpTypB: UInt8
    /// The FADT's PM1 event blocks as port ranges (status and enable
    /// registers), nil when absent or not in I/O space.
    public var pm1aEventPorts: ClosedRange<UInt16>?
    public var pm1bEventPorts: ClosedRange<UInt16>?
    /// The FADT's reset register, when it has one.
    public var resetRegister: FADT.ResetRegister?
    /// SMI_CMD and ACPI_ENABLE: how to switch the machine to ACPI mode.
    public var smiCommandPort: UInt16?
    public var acpiEnableValue: UInt8

    public init(pm1aControlPort: UInt16, pm1bControlPort: UInt16?, slpTypA: UInt8, slpTypB: UInt8,
                pm1aEventPorts: ClosedRange<UInt16>? = nil, pm1bEventPorts: ClosedRange<UInt16>? = nil,
                resetRegister: FADT.ResetRegister? = nil, smiCommandPort: UInt16? = nil, acpiEnableValue: UInt8 = 0) {
        self.pm1aControlPort = pm1aControlPort
        self.pm1bControlPort = pm1bControlPort
        self.slpTypA = slpTypA
        self.slpTypB = slpTypB
        self.pm1aEventPorts = pm1aEventPorts
        self.pm1bEventPorts = pm1bEventPorts
        self.resetRegister = resetRegister
        self.smiCommandPort = smiCommandPort
        self.acpiEnableValue = acpiEnableValue
    }

    public init(fadt: FADT, s5: SleepType) {
        func block(_ port: UInt16?) -> ClosedRange<UInt16>? {
            guard let port else { return nil }
            let length = UInt16(max(fadt.pm1EventLength, 1))
            return port...(port &+ min(length - 1, 0xFFFF - port))
        }
        self.init(pm1aControlPort: fadt.pm1aControlPort, pm1bControlPort: fadt.pm1bControlPort,
                  slpTypA: s5.a, slpTypB: s5.b, pm1aEventPorts: block(fadt.pm1aEventPort),
                  pm1bEventPorts: block(fadt.pm1bEventPort), resetRegister: fadt.resetRegister,
                  smiCommandPort: fadt.smiCommandPort, acpiEnableValue: fadt.acpiEnableValue)
    }

    /// How `enableACPIMode` went.
    public enum ModeSwitch: Equatable, Sendable {
        /// SCI_EN was already set (or there is no SMI_CMD: always ACPI).
        case alreadyACPI
        /// ACPI_ENABLE was written to SMI_CMD and SCI_EN came on.
        case enabled
        /// ACPI_ENABLE was written but SCI_EN stayed 0 for `polls` reads.
        case noResponse(polls: Int)
    }

    /// Puts the machine in ACPI mode the way an OS does (write ACPI_ENABLE
    /// to SMI_CMD, then poll PM1a control until SCI_EN is set), so that the
    /// guest finds it done and never needs to raise an SMI: the I/O policy
    /// drops every guest write to SMI_CMD. The host calls this once, before
    /// the first guest.
    ///
    /// ACPI 6.5, "Fixed ACPI Description Table (FADT)" (5.2.9): SMI_CMD,
    /// ACPI_ENABLE; "PM1 Control Registers" (4.8.4.2.1): SCI_EN.
    public func enableACPIMode<P: PortIO>(_ io: inout P, polls: Int = 1_000_000) -> ModeSwitch {
        if PM1Control(rawValue: io.inw(pm1aControlPort)).sciEnable { return .alreadyACPI }
        guard let smiCommandPort, acpiEnableValue != 0 else { return .alreadyACPI }
        io.outb(smiCommandPort, acpiEnableValue)
        for _ in 0..<polls where PM1Control(rawValue: io.inw(pm1aControlPort)).sciEnable {
            return .enabled
        }
        return .noResponse(polls: polls)
    }

    /// The reset register as an I/O port and value, nil when there is none
    /// or it is not in system I/O space (then it is not trapped: memory or
    /// PCI configuration space would need EPT or 0xCFC filtering).
    public var resetPort: (port: UInt16, value: UInt8)? {
        guard let reset = resetRegister, reset.register.addressSpace == .systemIO,
              reset.register.address <= 0xFFFF else { return nil }
        return (UInt16(reset.register.address), reset.value)
    }

    /// RSDP -> RSDT/XSDT -> FACP -> DSDT -> `\_S5`, validating each table.
    public static func discover<M: PhysicalMemory>(in memory: M) throws(ACPIError) -> ACPIPowerOff {
        let rsdp = try RSDP.locate(in: memory)
        let fadt = try FADT.find(in: try rsdp.rootTable(in: memory), memory: memory)
        let dsdt = try SystemDescriptionTable.validate(at: fadt.dsdtAddress, expecting: .dsdt, in: memory)
        return ACPIPowerOff(fadt: fadt, s5: try SleepType.s5(inDSDT: dsdt, memory: memory))
    }

    /// The value to write to a PM1 control register that read `current`:
    /// SLP_TYP = `sleepType`, SLP_EN = 1, SCI_EN and bit 9 kept, the rest 0.
    public static func controlValue(current: UInt16, sleepType: UInt8) -> UInt16 {
        var value = PM1Control(rawValue: current & PM1Control.preservedBits)
        value.sleepType = sleepType
        value.sleepEnable = true
        return value.rawValue
    }

    /// Enters S5: for PM1a, then PM1b if present, reads the register (16-bit)
    /// and writes `(SLP_TYP << 10) | SLP_EN` plus the bits ACPI says to
    /// preserve. On the emulators the first write powers off and does not
    /// return; on hardware that needs both halves, the second does.
    public func powerOff<P: PortIO>(_ io: inout P) {
        io.outw(pm1aControlPort, Self.controlValue(current: io.inw(pm1aControlPort), sleepType: slpTypA))
        if let pm1b = pm1bControlPort {
            io.outw(pm1b, Self.controlValue(current: io.inw(pm1b), sleepType: slpTypB))
        }
    }

    /// Whether a guest's 16- or 32-bit OUT of `value` to `port` asks for S5:
    /// the PM1a control port, SLP_EN set and SLP_TYP equal to SLP_TYPa.
    public func isPowerOffRequest(port: UInt16, value: UInt32) -> Bool {
        guard port == pm1aControlPort else { return false }
        let control = PM1Control(rawValue: UInt16(truncatingIfNeeded: value))
        return control.sleepEnable && control.sleepType == slpTypA & 0x7
    }
}
