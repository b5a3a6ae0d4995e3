import Primitives

/// PCI configuration mechanism #1 (ports 0xCF8 and 0xCFC-0xCFF) as the
/// guest may use it: every access is forwarded except writes to the few
/// registers that place or enable the chipset's ACPI power-management I/O
/// block. Without this filter a guest could move that block to a port the
/// hypervisor does not watch and write SLP_EN there: the machine would
/// sleep, and resume in the guest's code without VMX.
///
/// - OUT 0xCF8 (32 bits, CONFIG_ADDRESS): remembered, then forwarded.
/// - 0xCFC-0xCFF (CONFIG_DATA): a write that touches a protected register
///   of the function CONFIG_ADDRESS selects is dropped (counted in
///   `droppedWrites`); everything else is forwarded.
///
/// The registers are found at boot by `locatePowerManagementBlock`. The
/// same registers reached through PCIe memory-mapped configuration space
/// (ECAM, ACPI MCFG) are not filtered yet; the emulators' i440FX machines
/// have none.
///
/// PCI Local Bus Specification 3.0, "Configuration Mechanism #1" (3.2.2.3.2).
public struct PCIConfigPolicy: Equatable, Sendable {
    /// CONFIG_ADDRESS.
    public static let addressPort: UInt16 = 0xCF8
    /// CONFIG_DATA, 4 bytes from here.
    public static let dataPort: UInt16 = 0xCFC

    /// Bytes [offset, offset + length) of one function's configuration space.
    public struct Register: Equatable, Sendable {
        /// Bus, device, function as CONFIG_ADDRESS bits 23:8 (bus << 8 |
        /// device << 3 | function).
        public var function: UInt32
        public var offset: UInt8
        public var length: UInt8

        public init(bus: UInt8, device: UInt8, function: UInt8, offset: UInt8, length: UInt8) {
            self.function = UInt32(bus) << 8 | UInt32(device & 0x1F) << 3 | UInt32(function & 7)
            self.offset = offset
            self.length = length
        }
    }

    public static let capacity = 4
    /// Up to `capacity` registers, stored inline (no heap).
    public typealias Registers = BoundedArray<4, Register>
    /// The protected registers.
    public private(set) var protected = Registers()
    /// The CONFIG_ADDRESS value the guest last wrote (the backend clears
    /// the real one before the first guest, so the two agree).
    public private(set) var address: UInt32 = 0
    /// Guest writes dropped so far.
    public private(set) var droppedWrites: UInt64 = 0

    public init(protecting registers: Registers = Registers()) {
        protected = registers
    }

    /// True for the accesses this policy owns: a 32-bit access to
    /// CONFIG_ADDRESS, any access to CONFIG_DATA, and the narrower accesses
    /// to 0xCF8-0xCFB that do not touch 0xCF9 (the reset control register,
    /// which the I/O policy owns).
    public static func owns(_ io: PortIO) -> Bool {
        if io.port >= dataPort && io.port <= dataPort + 3 { return true }
        guard io.port >= addressPort && io.port < dataPort else { return false }
        if io.port == addressPort && io.size == 4 { return true }
        let touchesResetControl = io.port <= 0xCF9 && 0xCF9 < UInt32(io.port) + UInt32(io.size)
        return !touchesResetControl
    }

    /// CONFIG_ADDRESS's ports: always intercepted (a 32-bit write to 0xCF8
    /// exits anyway, since 0xCF9, the reset control register, is watched).
    public static let addressPorts: ClosedRange<UInt16> = 0xCF8...0xCFB
    /// CONFIG_DATA's ports: intercepted only while `dataPortsNeedExits`, so
    /// configuration cycles to every other function run without an exit.
    public static let dataPorts: ClosedRange<UInt16> = 0xCFC...0xCFF

    /// True while CONFIG_ADDRESS selects (with configuration cycles
    /// enabled) a function that holds a protected register: then the
    /// backend sets CONFIG_DATA's bits in the I/O bitmap, else clears them.
    public var dataPortsNeedExits: Bool {
        guard address & (1 << 31) != 0 else { return false }
        let function = (address >> 8) & 0xFFFF
        return protected.withElements { $0.contains { $0.function == function } }
    }

    public mutating func handle(_ io: PortIO) -> ExitAction {
        guard !io.isString, io.size != 0 else { return .stopGuest(.unhandledPortIO(io)) }
        if io.port < Self.dataPort {
            if io.port == Self.addressPort && io.size == 4 && !io.isIn { address = io.value }
            return .forwardPortIO(io)
        }
        if !io.isIn && isProtected(port: io.port, size: io.size) {
            droppedWrites += 1
            return .advance
        }
        return .forwardPortIO(io)
    }

    /// Whether a CONFIG_DATA access of `size` bytes at `port` touches a
    /// protected register of the function CONFIG_ADDRESS selects.
    func isProtected(port: UInt16, size: UInt8) -> Bool {
        guard address & (1 << 31) != 0 else { return false }  // configuration cycles disabled
        let function = (address >> 8) & 0xFFFF
        let first = (address & 0xFC) + UInt32(port - Self.dataPort)
        let end = first + UInt32(size)
        return protected.withElements { registers in
            registers.contains { register in
                let start = UInt32(register.offset)
                return register.function == function && first < start + UInt32(register.length) && start < end
            }
        }
    }

    /// Finds, on bus 0, the configuration registers that place and enable
    /// the ACPI PM I/O block whose PM1a control register is at
    /// `pm1aControlPort` (from the FADT): any dword at 0x40-0xFC of any
    /// function that holds that block's base as an I/O BAR (bit 0 set, the
    /// base in bits 15:7: PIIX4 PMBA, ICH/PCH PMBASE), and the decode
    /// enable of the known chipsets (PIIX4 PMREGMISC 0x80; Intel LPC/PMC
    /// at device 31 ACPI_CNTL 0x44). `read` returns a configuration dword
    /// (bus, device, function, offset). The first `capacity` registers
    /// found are kept.
    public static func locatePowerManagementBlock(
        pm1aControlPort: UInt16, read: (UInt8, UInt8, UInt8, UInt8) -> UInt32
    ) -> Registers {
        var found = Registers()
        let block = UInt32(pm1aControlPort) & 0xFF80
        for device in UInt8(0)..<32 {
            let header = read(0, device, 0, 0x0C)
            let functions: UInt8 = (header >> 16) & 0x80 != 0 ? 8 : 1
            for function in 0..<functions {
                let identity = read(0, device, function, 0)
                let vendor = identity & 0xFFFF
                guard vendor != 0xFFFF else { continue }
                var holdsBlock = false
                for offset in stride(from: UInt8(0x40), through: 0xFC, by: 4) {
                    let value = read(0, device, function, offset)
                    guard value & 1 == 1, value >> 16 == 0, value & 0xFF80 == block, block != 0 else { continue }
                    try? found.append(Register(bus: 0, device: device, function: function, offset: offset, length: 4))
                    holdsBlock = true
                }
                guard holdsBlock else { continue }
                if identity == 0x7113_8086 {
                    try? found.append(Register(bus: 0, device: device, function: function, offset: 0x80, length: 1))
                } else if vendor == 0x8086 && device == 31 {
                    try? found.append(Register(bus: 0, device: device, function: function, offset: 0x44, length: 1))
                }
            }
        }
        return found
    }
}

extension PCIConfigPolicy.Register: BoundedArrayElement {
    public static var placeholder: Self { Self(bus: 0, device: 0, function: 0, offset: 0, length: 0) }
}
