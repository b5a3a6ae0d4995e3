import EPT
import Primitives

/// What stage 2 hands the hypervisor (Boot/layout.inc, `BI_*`): the boot
/// drive, where the payload landed, the BIOS E820 map, the identity page
/// tables it built and the boot stages' timeline marks. The hypervisor
/// reads it before anything else.
public struct BootInfo: Equatable, Sendable {
    public static let magic: UInt32 = 0x4942_5850  // "PXBI"
    /// 2: the boot timeline (`Offset.tscStage1` ... `Offset.tscSerial`).
    public static let currentVersion: UInt16 = 2
    /// Offsets of the fields (layout.inc `BI_*`; checked by BootTests).
    public enum Offset {
        public static let magic: UInt64 = 0
        public static let version: UInt64 = 4
        public static let bootDrive: UInt64 = 6
        public static let flags: UInt64 = 7
        public static let payloadBase: UInt64 = 8
        public static let payloadSize: UInt64 = 16
        public static let bytesPerSector: UInt64 = 24
        public static let e820Count: UInt64 = 28
        public static let pageTablesBase: UInt64 = 32
        public static let pageTablesSize: UInt64 = 40
        public static let identityMappedTop: UInt64 = 48
        public static let e820Entries: UInt64 = 64
        /// The boot timeline, after the E820 array (version 2).
        public static let tscStage1: UInt64 = 0xC40
        public static let tscStage2: UInt64 = 0xC48
        public static let tscHandoff: UInt64 = 0xC50
        public static let tscDisk: UInt64 = 0xC58
        public static let tscSerial: UInt64 = 0xC60
    }

    public var bootDrive: UInt8
    public var flags: UInt8
    public var payloadBase: UInt64
    public var payloadSize: UInt64
    public var bytesPerSector: UInt32
    public var e820Count: Int
    public var pageTablesBase: UInt64
    public var pageTablesSize: UInt64
    public var identityMappedTop: UInt64
    /// Physical address of the first E820 entry (24 bytes each).
    public var e820Address: UInt64
    /// What the boot stages measured: where the timeline starts.
    public var stageTimes: BootStageTimes

    /// Booted as an El Torito CD image (else as a raw disk).
    public var isCDBoot: Bool { flags & 1 != 0 }

    public init<Memory: PhysicalMemory>(loadingFrom memory: Memory, at address: UInt64) throws(BootInfoError) {
        let magic = memory.load(UInt32.self, at: address + Offset.magic)
        guard magic == Self.magic else { throw .badMagic(address: address, found: magic) }
        let version = memory.load(UInt16.self, at: address + Offset.version)
        guard version == Self.currentVersion else { throw .unsupportedVersion(version) }
        bootDrive = memory.load(UInt8.self, at: address + Offset.bootDrive)
        flags = memory.load(UInt8.self, at: address + Offset.flags)
        payloadBase = memory.load(UInt64.self, at: address + Offset.payloadBase)
        payloadSize = memory.load(UInt64.self, at: address + Offset.payloadSize)
        bytesPerSector = memory.load(UInt32.self, at: address + Offset.bytesPerSector)
        let count = memory.load(UInt32.self, at: address + Offset.e820Count)
        guard count > 0, count <= UInt32(BootLayout.e820MaxEntries) else { throw .badE820Count(count) }
        e820Count = Int(count)
        pageTablesBase = memory.load(UInt64.self, at: address + Offset.pageTablesBase)
        pageTablesSize = memory.load(UInt64.self, at: address + Offset.pageTablesSize)
        identityMappedTop = memory.load(UInt64.self, at: address + Offset.identityMappedTop)
        e820Address = address + Offset.e820Entries
        stageTimes = BootStageTimes(
            stage1: memory.load(UInt64.self, at: address + Offset.tscStage1),
            stage2: memory.load(UInt64.self, at: address + Offset.tscStage2),
            handoff: memory.load(UInt64.self, at: address + Offset.tscHandoff),
            disk: memory.load(UInt64.self, at: address + Offset.tscDisk),
            serial: memory.load(UInt64.self, at: address + Offset.tscSerial))
    }
}

public enum BootInfoError: Error, Equatable {
    case badMagic(address: UInt64, found: UInt32)
    case unsupportedVersion(UInt16)
    case badE820Count(UInt32)

    public var message: Message {
        switch self {
        case .badMagic(let address, let found):
            Message(template: "boot info at {hex} has magic {hex}, expected \"PXBI\": not started by pxHV's stage 2?",
                    address, UInt64(truncatingIfNeeded: found))
        case .unsupportedVersion(let version):
            Message(template: "boot info version {dec} unsupported (this build reads {dec}): stage 2 and hypervisor are from different builds",
                    UInt64(truncatingIfNeeded: version), UInt64(truncatingIfNeeded: BootInfo.currentVersion))
        case .badE820Count(let count):
            Message(template: "boot info lists {dec} E820 entries (1...{dec} expected): the BIOS gave no usable memory map",
                    UInt64(truncatingIfNeeded: count), UInt64(truncatingIfNeeded: BootLayout.e820MaxEntries))
        }
    }
}
