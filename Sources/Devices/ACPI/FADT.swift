import Primitives

/// What pxHV needs from the Fixed ACPI Description Table: the PM1 control
/// and event ports, the reset register and the DSDT.
///
/// ACPI 6.5, "Fixed ACPI Description Table (FADT)" (5.2.9)
public struct FADT: Hashable, Sendable {
    public var table: SystemDescriptionTable
    /// PM1a_CNT_BLK, or X_PM1a_CNT_BLK when present: a system I/O port.
    public var pm1aControlPort: UInt16
    /// PM1b_CNT_BLK / X_PM1b_CNT_BLK; nil when the platform has no PM1b.
    public var pm1bControlPort: UInt16?
    /// X_DSDT when the table has it and it is nonzero, else DSDT.
    public var dsdtAddress: UInt64
    /// PM1a_EVT_BLK / X_PM1a_EVT_BLK when a system I/O port, else nil.
    public var pm1aEventPort: UInt16?
    /// PM1b_EVT_BLK / X_PM1b_EVT_BLK when a system I/O port, else nil.
    public var pm1bEventPort: UInt16?
    /// PM1_EVT_LEN: bytes of each PM1 event block (status, then enable).
    public var pm1EventLength: UInt8
    /// SMI_CMD: the port of the SMI command register; nil (0) when the
    /// machine has no legacy mode (hardware-reduced or always ACPI).
    public var smiCommandPort: UInt16?
    /// ACPI_ENABLE: the value written to SMI_CMD to hand the fixed hardware
    /// to the OS (the firmware then sets SCI_EN).
    public var acpiEnableValue: UInt8
    /// RESET_REG with RESET_VALUE (ACPI 2.0+), nil when the table has none
    /// (address 0). Kept whatever the RESET_REG_SUP flag says: a guest can
    /// write the register whether or not the firmware advertises it.
    public var resetRegister: ResetRegister?

    /// RESET_REG and RESET_VALUE: writing `value` to the register resets
    /// the machine.
    ///
    /// ACPI 6.5, "Reset Register" (4.8.3.6)
    public struct ResetRegister: Hashable, Sendable {
        public var register: GenericAddress
        public var value: UInt8
        public init(register: GenericAddress, value: UInt8) {
            self.register = register
            self.value = value
        }
    }

    /// Byte offsets of the fields used, from the start of the table.
    public enum Offset {
        public static let dsdt: UInt32 = 40
        public static let smiCommand: UInt32 = 48
        public static let acpiEnable: UInt32 = 52
        public static let pm1aEventBlock: UInt32 = 56
        public static let pm1bEventBlock: UInt32 = 60
        public static let pm1aControlBlock: UInt32 = 64
        public static let pm1bControlBlock: UInt32 = 68
        public static let pm1EventLength: UInt32 = 88
        public static let pm1ControlLength: UInt32 = 89
        public static let resetRegister: UInt32 = 116
        public static let resetValue: UInt32 = 128
        public static let xDSDT: UInt32 = 140
        public static let xPM1aEventBlock: UInt32 = 148
        public static let xPM1bEventBlock: UInt32 = 160
        public static let xPM1aControlBlock: UInt32 = 172
        public static let xPM1bControlBlock: UInt32 = 184
    }

    /// Finds "FACP" in `root` and reads it.
    public static func find<M: PhysicalMemory>(in root: RootTable, memory: M) throws(ACPIError) -> FADT {
        guard let address = root.find(.fadt, in: memory) else {
            throw .noFADT(root: root.table.signature, address: root.table.address)
        }
        return try FADT(try .validate(at: address, expecting: .fadt, in: memory), in: memory)
    }

    /// Reads a validated FADT. ACPI 1.0 tables (116 bytes) end before the
    /// X_ fields; each X_ field is used only when the table's Length covers
    /// it and its address is nonzero.
    public init<M: PhysicalMemory>(_ table: SystemDescriptionTable, in memory: M) throws(ACPIError) {
        guard table.length >= Offset.pm1bControlBlock + 4 else {
            throw .badLength(signature: .fadt, address: table.address, length: table.length)
        }
        self.table = table

        func field<T: FixedWidthInteger>(_ type: T.Type, _ offset: UInt32) -> T? {
            table.length >= offset + UInt32(MemoryLayout<T>.size)
                ? memory.load(T.self, at: table.address + UInt64(offset)) : nil
        }
        func controlPort(legacy: UInt32, extended: UInt32) throws(ACPIError) -> UInt16? {
            if table.length >= extended + GenericAddress.length {
                let gas = GenericAddress(at: table.address + UInt64(extended), in: memory)
                if gas.address != 0 {
                    guard gas.addressSpace == .systemIO, gas.address <= 0xFFFF else {
                        throw .unusablePM1ControlBlock(
                            fadtAddress: table.address, addressSpace: gas.addressSpace.rawValue,
                            address: gas.address)
                    }
                    return UInt16(gas.address)
                }
            }
            let port = field(UInt32.self, legacy) ?? 0
            if port == 0 { return nil }
            guard port <= 0xFFFF else {
                throw .unusablePM1ControlBlock(
                    fadtAddress: table.address, addressSpace: GenericAddress.AddressSpace.systemIO.rawValue,
                    address: UInt64(port))
            }
            return UInt16(port)
        }

        guard let pm1a = try controlPort(legacy: Offset.pm1aControlBlock, extended: Offset.xPM1aControlBlock)
        else { throw .noPM1aControlBlock(fadtAddress: table.address) }
        pm1aControlPort = pm1a
        pm1bControlPort = try controlPort(legacy: Offset.pm1bControlBlock, extended: Offset.xPM1bControlBlock)

        // Event blocks: only used to tell real ports from emulator ones, so
        // a block that is not a system I/O port is simply nil.
        func eventPort(legacy: UInt32, extended: UInt32) -> UInt16? {
            if table.length >= extended + GenericAddress.length {
                let gas = GenericAddress(at: table.address + UInt64(extended), in: memory)
                if gas.address != 0 {
                    return gas.addressSpace == .systemIO && gas.address <= 0xFFFF ? UInt16(gas.address) : nil
                }
            }
            let port = field(UInt32.self, legacy) ?? 0
            return port == 0 || port > 0xFFFF ? nil : UInt16(port)
        }
        pm1aEventPort = eventPort(legacy: Offset.pm1aEventBlock, extended: Offset.xPM1aEventBlock)
        pm1bEventPort = eventPort(legacy: Offset.pm1bEventBlock, extended: Offset.xPM1bEventBlock)
        pm1EventLength = field(UInt8.self, Offset.pm1EventLength) ?? 0
        let smiCommand = field(UInt32.self, Offset.smiCommand) ?? 0
        smiCommandPort = smiCommand == 0 || smiCommand > 0xFFFF ? nil : UInt16(smiCommand)
        acpiEnableValue = field(UInt8.self, Offset.acpiEnable) ?? 0

        if table.length >= Offset.resetValue + 1 {
            let register = GenericAddress(at: table.address + UInt64(Offset.resetRegister), in: memory)
            resetRegister = register.address == 0 ? nil
                : ResetRegister(register: register, value: field(UInt8.self, Offset.resetValue) ?? 0)
        } else {
            resetRegister = nil
        }

        let dsdt = field(UInt64.self, Offset.xDSDT).flatMap { $0 == 0 ? nil : $0 }
            ?? UInt64(field(UInt32.self, Offset.dsdt) ?? 0)
        guard dsdt != 0 else { throw .noDSDT(fadtAddress: table.address) }
        dsdtAddress = dsdt
    }
}
