import Primitives

/// The type of an E820 address range.
///
/// Open (a struct, not an enum) because firmware reports types beyond the
/// ACPI list (Linux knows 12 "PRAM" and 20 "soft reserved"); an unknown type
/// is kept as reported and treated like `reserved`.
///
/// ACPI 6.5, "Address Range Types" (Table 15.1, in "INT 15H, E820H - Query
/// System Address Map", 15.1).
public struct MemoryType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// AddressRangeMemory: RAM the OS may use.
    public static let usable = MemoryType(rawValue: 1)
    /// AddressRangeReserved: in use or reserved by the system.
    public static let reserved = MemoryType(rawValue: 2)
    /// AddressRangeACPI: ACPI tables; RAM once the OS has read them.
    public static let acpiReclaimable = MemoryType(rawValue: 3)
    /// AddressRangeNVS: must be preserved across sleep states.
    public static let acpiNVS = MemoryType(rawValue: 4)
    /// AddressRangeUnusable: detected errors.
    public static let unusable = MemoryType(rawValue: 5)
    /// AddressRangeDisabled: not enabled.
    public static let disabled = MemoryType(rawValue: 6)
    /// AddressRangePersistentMemory.
    public static let persistent = MemoryType(rawValue: 7)

    /// True for types backed by DRAM (or NVDIMM) that the guest may cache
    /// write-back: everything the firmware reports as memory, whatever the OS
    /// may later do with it.
    public var isMemory: Bool {
        self == .usable || self == .acpiReclaimable || self == .acpiNVS || self == .persistent
    }

    /// Where two entries overlap, the type with the higher rank wins.
    ///
    /// Linux lets the larger type number win (`e820__update_table`). We rank
    /// by what an OS may do with the bytes instead, so that "ACPI reclaimable"
    /// (3) can never turn part of a "reserved" (2) range into RAM once the
    /// tables are parsed: usable < ACPI reclaimable < persistent < ACPI NVS <
    /// reserved and unknown types < unusable < disabled. Ties between
    /// unknown types go to the larger number, so the result is deterministic.
    var restrictiveness: UInt64 {
        let rank: UInt64
        switch self {
        case .usable: rank = 0
        case .acpiReclaimable: rank = 1
        case .persistent: rank = 2
        case .acpiNVS: rank = 3
        case .unusable: rank = 5
        case .disabled: rank = 6
        default: rank = 4  // reserved and every unknown type
        }
        return rank << 32 | UInt64(rawValue)
    }
}

/// One entry of the BIOS E820 map, as stage 2 stores it in BootInfo:
/// `{u64 base, u64 length, u32 type, u32 extended attributes}`, 24 bytes.
///
/// ACPI 6.5, "INT 15H, E820H - Query System Address Map" (15.1).
public struct E820Entry: Hashable, Sendable, BoundedArrayElement {
    /// Bytes per entry in BootInfo (`E820_ENTRY_SIZE` in Boot/layout.inc).
    public static let stride: UInt64 = 24

    public var base: UInt64
    public var length: UInt64
    public var type: MemoryType
    /// ACPI 3.0 extended attributes. Kept as reported and not interpreted:
    /// ACPI 4.0 deprecated them and Linux ignores them too.
    public var extendedAttributes: UInt32

    public init(base: UInt64, length: UInt64, type: MemoryType, extendedAttributes: UInt32 = 1) {
        self.base = base
        self.length = length
        self.type = type
        self.extendedAttributes = extendedAttributes
    }

    /// Reads the entry stage 2 stored at physical `address`.
    public init<Memory: PhysicalMemory>(loadingFrom memory: Memory, at address: UInt64) {
        self.init(
            base: memory.load(UInt64.self, at: address),
            length: memory.load(UInt64.self, at: address + 8),
            type: MemoryType(rawValue: memory.load(UInt32.self, at: address + 16)),
            extendedAttributes: memory.load(UInt32.self, at: address + 20))
    }

    public static var placeholder: E820Entry { E820Entry(base: 0, length: 0, type: .reserved) }

    /// The covered addresses; the end is clamped when `base + length`
    /// overflows.
    public var range: PhysicalRange { PhysicalRange(start: base, length: length) }
}

/// The E820 table as stage 2 left it in physical memory, read in place.
///
/// A collection view rather than a copy, so that building the memory map
/// from BootInfo needs no buffer for the raw entries.
public struct E820Table<Memory: PhysicalMemory>: RandomAccessCollection {
    public let memory: Memory
    public let address: UInt64
    public let count: Int

    /// The `count` entries starting at physical `address` (BootInfo +
    /// `BI_E820_ENTRIES`, count from `BI_E820_COUNT`).
    public init(memory: Memory, address: UInt64, count: Int) {
        precondition(count >= 0, "negative entry count")
        self.memory = memory
        self.address = address
        self.count = count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> E820Entry {
        precondition(position >= 0 && position < count, "index out of range")
        return E820Entry(loadingFrom: memory, at: address + UInt64(position) * E820Entry.stride)
    }
}
