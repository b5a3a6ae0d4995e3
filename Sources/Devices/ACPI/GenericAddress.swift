import Primitives

/// A register's location in some address space.
///
/// ACPI 6.5, "Generic Address Structure (GAS)" (5.2.3.2)
public struct GenericAddress: Hashable, Sendable {
    public var addressSpace: AddressSpace
    public var registerBitWidth: UInt8
    public var registerBitOffset: UInt8
    /// 0 undefined, 1 byte, 2 word, 3 dword, 4 qword.
    public var accessSize: UInt8
    public var address: UInt64

    /// Size of the structure in a table.
    public static let length: UInt32 = 12

    public init(addressSpace: AddressSpace, registerBitWidth: UInt8, registerBitOffset: UInt8,
                accessSize: UInt8, address: UInt64) {
        self.addressSpace = addressSpace
        self.registerBitWidth = registerBitWidth
        self.registerBitOffset = registerBitOffset
        self.accessSize = accessSize
        self.address = address
    }

    /// Reads the 12-byte structure at `address`.
    public init<M: PhysicalMemory>(at address: UInt64, in memory: M) {
        self.init(addressSpace: AddressSpace(rawValue: memory.load(UInt8.self, at: address)),
                  registerBitWidth: memory.load(UInt8.self, at: address + 1),
                  registerBitOffset: memory.load(UInt8.self, at: address + 2),
                  accessSize: memory.load(UInt8.self, at: address + 3),
                  address: memory.load(UInt64.self, at: address + 4))
    }

    /// Address Space ID.
    public struct AddressSpace: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let systemMemory = Self(rawValue: 0)
        public static let systemIO = Self(rawValue: 1)
        public static let pciConfiguration = Self(rawValue: 2)
        public static let embeddedController = Self(rawValue: 3)
        public static let smbus = Self(rawValue: 4)
        public static let functionalFixedHardware = Self(rawValue: 0x7F)
    }
}
