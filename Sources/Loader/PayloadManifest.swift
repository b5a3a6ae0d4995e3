/// The payload manifest: a small versioned header at the start of the
/// payload that says what the payload holds and how to check it.
///
/// Layout (little-endian; `Boot/layout.inc` names the offsets stage 2 reads):
///
///     0   u64  magic "PXHVPAYL"
///     8   u16  version (1)
///     10  u16  entry count
///     12  u32  header size (64 + 32 * entry count)
///     16  u64  total size: bytes from the payload start to the end of the
///              last entry, i.e. what stage 2 must load
///     24  u64  entry point: the 64-bit address stage 2 jumps to
///     32  u64  load address: where the payload must sit (PAYLOAD_BASE)
///     40  u32  CRC-32 of the header and entries, this field taken as zero
///     44  20 bytes reserved, zero
///     64  entries, 32 bytes each:
///         0 u32 kind, 4 u32 flags, 8 u64 offset (from payload start),
///         16 u64 size, 24 u32 CRC-32 of the entry's bytes, 28 u32 reserved
///
/// Stage 2 checks only magic, version, load address and total size (it must
/// load the bytes before anything else can be checked); the hypervisor checks
/// everything with `validate(_:)` before it trusts any of it.
public struct PayloadManifest: Equatable, Sendable {
    public static let magic: UInt64 = 0x4C59_4150_5648_5850  // "PXHVPAYL"
    public static let currentVersion: UInt16 = 1
    public static let headerSize = 64
    public static let entrySize = 32
    static let checksumOffset = 40

    public var version: UInt16
    public var totalSize: UInt64
    public var entryPoint: UInt64
    public var loadAddress: UInt64
    public var entries: [PayloadEntry]

    public init(
        version: UInt16 = currentVersion, totalSize: UInt64, entryPoint: UInt64,
        loadAddress: UInt64, entries: [PayloadEntry]
    ) {
        self.version = version
        self.totalSize = totalSize
        self.entryPoint = entryPoint
        self.loadAddress = loadAddress
        self.entries = entries
    }

    /// The first entry of `kind`, if any.
    public func entry(_ kind: PayloadKind) -> PayloadEntry? {
        for entry in entries where entry.kind == kind { return entry }
        return nil
    }
}

/// One blob inside the payload.
public struct PayloadEntry: Equatable, Sendable {
    public var kind: PayloadKind
    public var flags: UInt32
    public var offset: UInt64
    public var size: UInt64
    public var checksum: UInt32

    public init(kind: PayloadKind, flags: UInt32 = 0, offset: UInt64, size: UInt64, checksum: UInt32) {
        self.kind = kind
        self.flags = flags
        self.offset = offset
        self.size = size
        self.checksum = checksum
    }

    public var end: UInt64 { offset &+ size }

    /// In the hypervisor entry's flags: boot the Linux guest natively,
    /// without VMX (`build-image --direct`, the baseline of the boot-time
    /// benchmark).
    public static let directBootFlag: UInt32 = 1
    /// In the hypervisor entry's flags: after VMXON and the EPT, execute
    /// UD2 in root mode (`build-image --panic-test`), so a test sees the
    /// panic report and the halt instead of a triple fault.
    public static let panicTestFlag: UInt32 = 2
    /// In the hypervisor entry's flags: after VMXON and the EPT, recurse
    /// until the boot stack runs into its guard page (`build-image
    /// --stack-overflow-test`): the overflow must end in a panic report.
    public static let stackOverflowTestFlag: UInt32 = 4
    /// In the hypervisor entry's flags: after VMXON and the EPT, allocate
    /// until the early heap is exhausted (`build-image
    /// --heap-exhaustion-test`): that must end in a panic report too.
    public static let heapExhaustionTestFlag: UInt32 = 8
}

/// What a payload entry holds.
public struct PayloadKind: RawRepresentable, Equatable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The hypervisor's own flat binary (linked at its load address).
    public static let hypervisor = Self(rawValue: 1)
    /// A Linux bzImage.
    public static let linuxKernel = Self(rawValue: 2)
    /// An initramfs (newc cpio, possibly compressed).
    public static let initrd = Self(rawValue: 3)
    /// The guest kernel command line, NUL-terminated.
    public static let commandLine = Self(rawValue: 4)
    /// A built-in test guest (flat binary); `TestGuestStart` in the entry's
    /// flags says how it starts (Guest/README.md).
    public static let testGuest = Self(rawValue: 5)
    /// The hostile-guest suite (Guest/hostile, flat binary): starts like the
    /// 64-bit test guest, under the attack harness (Guest/README.md).
    public static let hostileGuest = Self(rawValue: 6)
    /// A BIOS guest's disk (`--guest bios`, `--guest freedos`): a floppy or
    /// MBR hard-disk image the guest boots from and pxHV serves through its
    /// INT 13h; the entry's flags hold the BIOS drive number (0x00 floppy,
    /// 0x80 hard disk) in bits 7:0.
    public static let diskImage = Self(rawValue: 7)
    /// A Multiboot v1 kernel (`--guest multiboot`): ELF32 or a.out kludge.
    public static let multibootKernel = Self(rawValue: 8)
    /// A Multiboot module, in the order given; the module's string follows
    /// it as a `multibootModuleString` entry (NUL-terminated).
    public static let multibootModule = Self(rawValue: 9)
    /// The string of the `multibootModule` entry just before it.
    public static let multibootModuleString = Self(rawValue: 10)

    public var name: StaticString {
        switch self {
        case .hypervisor: "hypervisor"
        case .linuxKernel: "linux-kernel"
        case .initrd: "initrd"
        case .commandLine: "cmdline"
        case .testGuest: "test-guest"
        case .hostileGuest: "hostile-guest"
        case .diskImage: "disk-image"
        case .multibootKernel: "multiboot-kernel"
        case .multibootModule: "multiboot-module"
        case .multibootModuleString: "multiboot-module-string"
        default: "unknown"
        }
    }

    /// Kinds this version understands; anything else is refused.
    public var isKnown: Bool { rawValue >= 1 && rawValue <= 10 }
}

/// How a test guest starts (the flags of its payload entry; Guest/README.md
/// gives the load addresses and register state).
public struct TestGuestStart: RawRepresentable, Equatable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Real mode at 0x1000:0000 (unrestricted guest), loaded at GPA 0x10000.
    public static let realMode = Self(rawValue: 0)
    /// 64-bit mode at RIP 0x100000, loaded there, identity paging.
    public static let longMode = Self(rawValue: 1)
    /// As `longMode`, and the guest starts the other CPUs itself: under
    /// VT-x they are its vCPUs, waiting for its INIT and SIPI (the SMP test
    /// guest, Guest/smp).
    public static let smp = Self(rawValue: 2)

    /// Starts in 64-bit mode (`longMode`, `smp`).
    public var isLongMode: Bool { self != .realMode }

    /// Guest-physical load address (== start address).
    public var loadAddress: UInt64 { isLongMode ? 0x10_0000 : 0x1_0000 }
}
