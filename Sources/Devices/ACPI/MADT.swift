import Primitives

/// The Multiple APIC Description Table ("APIC"): which processors the
/// machine has, by local APIC ID, and where the local APIC is.
///
/// ACPI 6.5, "Multiple APIC Description Table (MADT)" (5.2.12): after the
/// 36-byte header, Local Interrupt Controller Address (u32) and Flags (u32),
/// then Interrupt Controller Structures, each starting with Type (u8) and
/// Length (u8).
public struct MADT: Hashable, Sendable {
    public var table: SystemDescriptionTable
    /// The local APIC's physical address: the table's 32-bit field, or the
    /// Local APIC Address Override (type 5) when there is one.
    public var localAPICAddress: UInt64
    /// Bit 0 PCAT_COMPAT: the machine also has dual 8259s.
    public var flags: UInt32

    public enum Offset {
        public static let localAPICAddress: UInt64 = 36
        public static let flags: UInt64 = 40
        public static let entries: UInt64 = 44
    }

    /// Interrupt Controller Structure types (ACPI 6.5, Table 5.21).
    public enum EntryType {
        /// "Processor Local APIC Structure" (5.2.12.2), 8 bytes.
        public static let localAPIC: UInt8 = 0
        /// "Local APIC Address Override Structure" (5.2.12.8), 12 bytes.
        public static let localAPICAddressOverride: UInt8 = 5
        /// "Processor Local x2APIC Structure" (5.2.12.12), 16 bytes.
        public static let localX2APIC: UInt8 = 9
    }

    /// Finds "APIC" in `root` and reads it.
    public static func find<M: PhysicalMemory>(in root: RootTable, memory: M) throws(ACPIError) -> MADT {
        guard let address = root.find(.madt, in: memory) else {
            throw .noMADT(root: root.table.signature, address: root.table.address)
        }
        return try MADT(try .validate(at: address, expecting: .madt, in: memory), in: memory)
    }

    /// Reads a validated MADT and checks that its structures tile the body:
    /// each at least 2 bytes long and none past the end of the table.
    public init<M: PhysicalMemory>(_ table: SystemDescriptionTable, in memory: M) throws(ACPIError) {
        guard UInt64(table.length) >= Offset.entries else {
            throw .badLength(signature: .madt, address: table.address, length: table.length)
        }
        self.table = table
        localAPICAddress = UInt64(memory.load(UInt32.self, at: table.address + Offset.localAPICAddress))
        flags = memory.load(UInt32.self, at: table.address + Offset.flags)
        var address = table.address + Offset.entries
        while address < table.endAddress {
            let remaining = table.endAddress - address
            let type = remaining >= 1 ? memory.load(UInt8.self, at: address) : 0
            let length = remaining >= 2 ? UInt64(memory.load(UInt8.self, at: address + 1)) : 0
            guard length >= 2, length <= remaining else {
                throw .malformedMADTEntry(address: address, type: type, length: UInt8(truncatingIfNeeded: length))
            }
            if type == EntryType.localAPICAddressOverride && length >= 12 {
                localAPICAddress = memory.load(UInt64.self, at: address + 4)
            }
            address += length
        }
    }

    /// Calls `body` with each Interrupt Controller Structure: its address,
    /// type and length (validated by `init`).
    public func forEachEntry<M: PhysicalMemory>(in memory: M, _ body: (_ address: UInt64, _ type: UInt8, _ length: UInt8) -> Void) {
        var address = table.address + Offset.entries
        while address < table.endAddress {
            let length = memory.load(UInt8.self, at: address + 1)
            body(address, memory.load(UInt8.self, at: address), length)
            address += UInt64(length)
        }
    }

    /// The processor a structure describes, or nil when it is not a
    /// Processor Local APIC (type 0) or x2APIC (type 9) structure of its
    /// full length.
    public static func processor<M: PhysicalMemory>(at address: UInt64, type: UInt8, length: UInt8, in memory: M) -> MADTProcessor? {
        switch type {
        case EntryType.localAPIC where length >= 8:
            return MADTProcessor(
                apicID: UInt32(memory.load(UInt8.self, at: address + 3)),
                processorUID: UInt32(memory.load(UInt8.self, at: address + 2)),
                flags: MADTProcessor.Flags(rawValue: memory.load(UInt32.self, at: address + 4)), isX2APIC: false)
        case EntryType.localX2APIC where length >= 16:
            return MADTProcessor(
                apicID: memory.load(UInt32.self, at: address + 4),
                processorUID: memory.load(UInt32.self, at: address + 12),
                flags: MADTProcessor.Flags(rawValue: memory.load(UInt32.self, at: address + 8)), isX2APIC: true)
        default:
            return nil
        }
    }

    /// Every processor the table lists, in table order (a CPU with both a
    /// type 0 and a type 9 structure appears once, as its first).
    public func processors<M: PhysicalMemory>(in memory: M) -> [MADTProcessor] {
        var found: [MADTProcessor] = []
        forEachEntry(in: memory) { address, type, length in
            if let processor = Self.processor(at: address, type: type, length: length, in: memory),
                !found.contains(where: { $0.apicID == processor.apicID })
            {
                found.append(processor)
            }
        }
        return found
    }
}

/// One processor of the MADT.
public struct MADTProcessor: Hashable, Sendable {
    /// The local APIC ID (8 bits from a type 0 structure, 32 from type 9).
    public var apicID: UInt32
    /// The ACPI Processor UID that ties it to a Processor object in the DSDT.
    public var processorUID: UInt32
    public var flags: Flags
    /// Listed by a Processor Local x2APIC structure (type 9).
    public var isX2APIC: Bool

    public init(apicID: UInt32, processorUID: UInt32, flags: Flags, isX2APIC: Bool) {
        self.apicID = apicID
        self.processorUID = processorUID
        self.flags = flags
        self.isX2APIC = isX2APIC
    }

    /// Local APIC Flags (ACPI 6.5, Table 5.23).
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The processor is ready for use; the OS may start it.
        public static let enabled = Self(rawValue: 1 << 0)
        /// With `enabled` clear: the processor can be enabled at run time
        /// (hot-add). With `enabled` set this bit is reserved.
        public static let onlineCapable = Self(rawValue: 1 << 1)
    }

    /// A processor to start at boot: `enabled` (online-capable ones are
    /// not present yet; ACPI says not to start them).
    public var isUsable: Bool { flags.contains(.enabled) }
}
