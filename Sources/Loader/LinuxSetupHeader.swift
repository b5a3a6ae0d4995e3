import Primitives

/// The setup header of a Linux bzImage: what the kernel tells its boot
/// loader (and what the loader writes back into `boot_params`).
///
/// Linux boot protocol (Documentation/arch/x86/boot.rst), "The Real-Mode
/// Kernel Header": the header sits at file offset 0x1F1; every offset
/// below is from the start of the image (which is also its offset inside
/// `boot_params`, where the header is copied to the same place).
/// This module follows the protocol as of version 2.15 and needs 2.12
/// (`xloadflags`, Linux 3.8) or later.
public struct LinuxSetupHeader: Equatable, Sendable {
    /// Offsets in the image and in `boot_params`: boot.rst, "The Real-Mode
    /// Kernel Header" (the table); checked against it by LoaderTests.
    public enum Offset {
        public static let setupSects = 0x1F1  // u8
        public static let rootFlags = 0x1F2  // u16
        public static let sysSize = 0x1F4  // u32
        public static let vidMode = 0x1FA  // u16
        public static let bootFlag = 0x1FE  // u16
        public static let jump = 0x200  // u16 (0xEB, rel8)
        public static let header = 0x202  // u32 "HdrS"
        public static let version = 0x206  // u16
        public static let typeOfLoader = 0x210  // u8
        public static let loadFlags = 0x211  // u8
        public static let code32Start = 0x214  // u32
        public static let ramdiskImage = 0x218  // u32
        public static let ramdiskSize = 0x21C  // u32
        public static let heapEndPtr = 0x224  // u16
        public static let cmdLinePtr = 0x228  // u32
        public static let initrdAddrMax = 0x22C  // u32
        public static let kernelAlignment = 0x230  // u32
        public static let relocatableKernel = 0x234  // u8
        public static let minAlignment = 0x235  // u8
        public static let xloadflags = 0x236  // u16
        public static let cmdlineSize = 0x238  // u32
        public static let payloadOffset = 0x248  // u32
        public static let payloadLength = 0x24C  // u32
        public static let prefAddress = 0x258  // u64
        public static let initSize = 0x260  // u32
        /// End of the fields this module reads (`handover_offset`, 2.11,
        /// ends here; 2.15 adds `kernel_info_offset` up to 0x26C).
        public static let end = 0x268
    }

    /// `boot_flag`: the boot sector's 0xAA55 signature.
    public static let bootFlagMagic: UInt16 = 0xAA55
    /// `header`: "HdrS" (0x53726448).
    public static let headerMagic: UInt32 = 0x5372_6448
    /// Protocol 2.12 (Linux 3.8): the first with `xloadflags`, which says
    /// whether the 64-bit entry exists.
    public static let minimumVersion: UInt16 = 0x020C

    /// `setup_sects` as stored (0 means 4: see `setupSectors`).
    public var setupSectsField: UInt8
    public var version: UInt16
    public var loadFlags: LoadFlags
    public var xloadflags: XLoadFlags
    public var code32Start: UInt32
    public var initrdAddrMax: UInt32
    public var kernelAlignment: UInt32
    public var isRelocatable: Bool
    /// `min_alignment`: log2 of the alignment the kernel needs (0: none given).
    public var minAlignmentShift: UInt8
    public var cmdlineSize: UInt32
    public var payloadOffset: UInt32
    public var payloadLength: UInt32
    public var prefAddress: UInt64
    public var initSize: UInt32
    /// The header's end in the image: 0x202 + the jump's offset byte at 0x201
    /// (boot.rst, "64-bit Boot Protocol": the bytes a loader copies).
    public var headerEnd: Int

    /// Boot.rst, "Details of Header Fields", setup_sects: "If this field is
    /// 0, the real value is 4."
    public var setupSectors: Int { setupSectsField == 0 ? 4 : Int(setupSectsField) }

    /// File offset of the protected-mode kernel: boot sector + setup
    /// (boot.rst, "Loading The Rest of The Kernel").
    public var protectedModeOffset: Int { (setupSectors + 1) * 512 }

    /// Major and minor protocol version, e.g. (2, 15).
    public var versionMajor: UInt8 { UInt8(version >> 8) }
    public var versionMinor: UInt8 { UInt8(version & 0xFF) }

    /// Parses and checks the header at the start of `image` (the bzImage
    /// file, or at least its setup sectors).
    public init(parsing image: UnsafeRawBufferPointer) throws(LinuxBootError) {
        guard image.count >= Offset.end else {
            throw .notBzImage(.truncated(size: image.count))
        }
        let bootFlag = image.loadLE(UInt16.self, at: Offset.bootFlag)
        guard bootFlag == Self.bootFlagMagic else { throw .notBzImage(.noBootFlag(found: bootFlag)) }
        let magic = image.loadLE(UInt32.self, at: Offset.header)
        guard magic == Self.headerMagic else { throw .notBzImage(.noHdrS(found: magic)) }
        version = image.loadLE(UInt16.self, at: Offset.version)
        guard version >= Self.minimumVersion else { throw .protocolTooOld(version: version) }
        loadFlags = LoadFlags(rawValue: image.loadLE(UInt8.self, at: Offset.loadFlags))
        guard loadFlags.contains(.loadedHigh) else { throw .notBzImage(.notLoadedHigh) }

        setupSectsField = image.loadLE(UInt8.self, at: Offset.setupSects)
        xloadflags = XLoadFlags(rawValue: image.loadLE(UInt16.self, at: Offset.xloadflags))
        code32Start = image.loadLE(UInt32.self, at: Offset.code32Start)
        initrdAddrMax = image.loadLE(UInt32.self, at: Offset.initrdAddrMax)
        kernelAlignment = image.loadLE(UInt32.self, at: Offset.kernelAlignment)
        isRelocatable = image.loadLE(UInt8.self, at: Offset.relocatableKernel) != 0
        minAlignmentShift = image.loadLE(UInt8.self, at: Offset.minAlignment)
        cmdlineSize = image.loadLE(UInt32.self, at: Offset.cmdlineSize)
        payloadOffset = image.loadLE(UInt32.self, at: Offset.payloadOffset)
        payloadLength = image.loadLE(UInt32.self, at: Offset.payloadLength)
        prefAddress = image.loadLE(UInt64.self, at: Offset.prefAddress)
        initSize = image.loadLE(UInt32.self, at: Offset.initSize)
        headerEnd = Offset.header + Int(image.loadLE(UInt8.self, at: Offset.jump + 1))

        // boot_params has room up to 0x290, where edd_mbr_sig_buffer starts
        // (zero-page.rst).
        guard headerEnd >= Offset.end, headerEnd <= 0x290 else {
            throw .notBzImage(.badHeaderLength(end: headerEnd))
        }
        guard image.count > protectedModeOffset else {
            throw .notBzImage(.truncated(size: image.count))
        }
        guard kernelAlignment != 0, kernelAlignment & (kernelAlignment &- 1) == 0 else {
            throw .badAlignment(kernelAlignment)
        }
    }
}

/// `loadflags` (0x211). Boot.rst, "Details of Header Fields", loadflags.
public struct LoadFlags: OptionSet, Equatable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// LOADED_HIGH (read): the protected-mode code loads at 0x100000, i.e.
    /// this is a bzImage.
    public static let loadedHigh = Self(rawValue: 1 << 0)
    /// QUIET_FLAG (write): no early messages through the display hardware.
    public static let quiet = Self(rawValue: 1 << 5)
    /// CAN_USE_HEAP (write): `heap_end_ptr` is valid.
    public static let canUseHeap = Self(rawValue: 1 << 7)
}

/// `xloadflags` (0x236, protocol 2.12+). Boot.rst, "Details of Header
/// Fields", xloadflags.
public struct XLoadFlags: OptionSet, Equatable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// XLF_KERNEL_64: the legacy 64-bit entry point at load address + 0x200.
    public static let kernel64 = Self(rawValue: 1 << 0)
    /// XLF_CAN_BE_LOADED_ABOVE_4G: kernel, boot_params, command line and
    /// ramdisk may live above 4 GiB.
    public static let canBeLoadedAbove4G = Self(rawValue: 1 << 1)
    public static let efiHandover32 = Self(rawValue: 1 << 2)
    public static let efiHandover64 = Self(rawValue: 1 << 3)
    public static let efiKexec = Self(rawValue: 1 << 4)
}

/// How the guest enters Linux.
public enum LinuxEntryMode: Equatable, Sendable {
    /// Boot.rst, "64-bit Boot Protocol": long mode, paging on with the
    /// kernel, zero page and command line identity-mapped, RIP = load
    /// address + 0x200, RSI = boot_params. Needs XLF_KERNEL_64.
    case bits64
    /// Boot.rst, "32-bit Boot Protocol": protected mode, paging off,
    /// EIP = load address, ESI = boot_params, EBP = EDI = EBX = 0.
    case bits32
}

/// Why a bzImage cannot be booted, or not in this guest memory. Each case
/// has a one-line `message`.
public enum LinuxBootError: Error, Equatable, Sendable {
    public enum NotBzImage: Equatable, Sendable {
        case truncated(size: Int)
        case noBootFlag(found: UInt16)
        case noHdrS(found: UInt32)
        case notLoadedHigh
        case badHeaderLength(end: Int)
    }

    case notBzImage(NotBzImage)
    case protocolTooOld(version: UInt16)
    case badAlignment(UInt32)
    case entryModeUnsupported(LinuxEntryMode)
    case notRelocatable(prefAddress: UInt64, size: UInt64)
    case kernelDoesNotFit(size: UInt64, largestUsable: UInt64)
    case commandLineTooLong(length: Int, maximum: Int)
    case initrdAboveLimit(size: UInt64, limit: UInt64)
    case initrdTooLarge(size: UInt64, largestFree: UInt64)
    /// A fixed low-memory area (boot_params, command line, page tables) is
    /// not usable RAM in the guest map.
    case lowMemoryUnavailable(start: UInt64, end: UInt64)

    /// One line for `pxhv: error:`.
    public var message: Message {
        switch self {
        case .notBzImage(.truncated(let size)):
            Message(template: "linux: not a bzImage: only {dec} bytes, shorter than its setup header or setup sectors",
                    UInt64(truncatingIfNeeded: size))
        case .notBzImage(.noBootFlag(let found)):
            Message(template: "linux: not a bzImage: boot_flag at 0x1fe is {hex}, expected 0xaa55",
                    UInt64(truncatingIfNeeded: found))
        case .notBzImage(.noHdrS(let found)):
            Message(template: "linux: not a bzImage: header at 0x202 is {hex}, expected \"HdrS\" (0x53726448)",
                    UInt64(truncatingIfNeeded: found))
        case .notBzImage(.notLoadedHigh):
            "linux: not a bzImage: loadflags.LOADED_HIGH is clear (a zImage)"
        case .notBzImage(.badHeaderLength(let end)):
            Message(template: "linux: not a bzImage: setup header ends at {hex} (jump at 0x200 is not a header-sized jump)",
                    UInt64(truncatingIfNeeded: end))
        case .protocolTooOld(let version):
            Message(template: "linux: boot protocol {dec}.{dec} too old (2.12, Linux 3.8, or later needed)",
                    UInt64(truncatingIfNeeded: version >> 8), UInt64(truncatingIfNeeded: version & 0xFF))
        case .badAlignment(let alignment):
            Message(template: "linux: kernel_alignment {hex} is not a power of two", UInt64(truncatingIfNeeded: alignment))
        case .entryModeUnsupported(.bits64):
            "linux: kernel has no 64-bit entry (xloadflags.XLF_KERNEL_64 clear); use the 32-bit entry"
        case .entryModeUnsupported(.bits32):
            "linux: kernel cannot be entered in 32-bit protected mode"
        case .notRelocatable(let prefAddress, let size):
            Message(template: "linux: kernel is not relocatable and [{hex}, +{hex}) is not usable guest RAM", prefAddress, size)
        case .kernelDoesNotFit(let size, let largest):
            Message(template: "linux: kernel needs {hex} contiguous bytes (init_size), largest usable guest RAM above 1 MiB is {hex}",
                    size, largest)
        case .commandLineTooLong(let length, let maximum):
            Message(template: "linux: command line is {dec} bytes, kernel accepts at most {dec} (cmdline_size)",
                    UInt64(truncatingIfNeeded: length), UInt64(truncatingIfNeeded: maximum))
        case .initrdAboveLimit(let size, let limit):
            Message(template: "linux: no usable guest RAM for a {hex}-byte initrd below initrd_addr_max {hex}", size, limit)
        case .initrdTooLarge(let size, let largest):
            Message(template: "linux: initrd is {hex} bytes, largest free usable guest RAM is {hex}", size, largest)
        case .lowMemoryUnavailable(let start, let end):
            Message(template: "linux: guest RAM [{hex}, {hex}) for boot_params/command line/page tables is not usable",
                    start, end)
        }
    }
}
