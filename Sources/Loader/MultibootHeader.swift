import EPT
import Primitives

/// A Multiboot (version 1) kernel image: its header and where its bytes go.
///
/// Multiboot Specification 0.6.96, "OS image format": the header is
/// 32-bit aligned within the first 8192 bytes; magic 0x1BADB002; flags;
/// checksum such that magic + flags + checksum == 0 (mod 2^32); with flags
/// bit 16 the address fields (header_addr, load_addr, load_end_addr,
/// bss_end_addr, entry_addr) say how to load the image (the "a.out
/// kludge"), else the image must be ELF and its program headers say it.
public struct MultibootImage: Equatable, Sendable {
    public static let headerMagic: UInt32 = 0x1BAD_B002
    /// The header must start in the first 8192 bytes.
    public static let searchLimit = 8192

    /// Multiboot 0.6.96, "The magic fields of Multiboot header"; bits 0-15
    /// are requirements a loader must honour or refuse the image.
    public struct Flags: OptionSet, Equatable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Modules must be page (4 KiB) aligned.
        public static let pageAlignModules = Self(rawValue: 1 << 0)
        /// mem_* (and mmap_*, if available) must be passed.
        public static let memoryInfo = Self(rawValue: 1 << 1)
        /// A video mode table must be passed: pxHV has none to offer.
        public static let videoMode = Self(rawValue: 1 << 2)
        /// The address fields at header offsets 12-28 are valid.
        public static let addressFields = Self(rawValue: 1 << 16)
        /// Requirement bits this loader honours.
        public static let supportedRequirements: Self = [.pageAlignModules, .memoryInfo]
        public static let requirementMask = Self(rawValue: 0xFFFF)
    }

    /// File offset of the header (the magic).
    public var headerOffset: Int
    public var flags: Flags
    /// Where the bytes go, in load order (one segment for the a.out kludge).
    public var segments: BoundedArray<16, MultibootSegment>
    /// Physical address the OS starts at (EIP).
    public var entryPoint: UInt32

    /// Finds and checks the header in `image`, then reads the load
    /// addresses from it (flags bit 16) or from the ELF32 program headers.
    public init(parsing image: UnsafeRawBufferPointer) throws(MultibootError) {
        var found: Int?
        var offset = 0
        // "The Multiboot header must be contained completely within the first
        // 8192 bytes of the OS image."
        while offset + 12 <= min(image.count, Self.searchLimit) {
            if image.loadLE(UInt32.self, at: offset) == Self.headerMagic {
                found = offset
                break
            }
            offset += 4
        }
        guard let found else { throw .noHeader }
        headerOffset = found
        let rawFlags = image.loadLE(UInt32.self, at: found + 4)
        let checksum = image.loadLE(UInt32.self, at: found + 8)
        let sum = Self.headerMagic &+ rawFlags &+ checksum
        guard sum == 0 else { throw .badChecksum(offset: found, sum: sum) }
        flags = Flags(rawValue: rawFlags)
        let unsupported = flags.intersection(.requirementMask).subtracting(.supportedRequirements)
        guard unsupported.isEmpty else { throw .unsupportedRequirements(unsupported.rawValue) }

        segments = BoundedArray()
        if flags.contains(.addressFields) {
            entryPoint = try Self.parseAddressFields(image, headerOffset: found, into: &segments)
        } else {
            entryPoint = try MultibootELF.parse(image, into: &segments)
        }
    }

    /// Multiboot 0.6.96, "The address fields of Multiboot header".
    static func parseAddressFields(
        _ image: UnsafeRawBufferPointer, headerOffset: Int, into segments: inout BoundedArray<16, MultibootSegment>
    ) throws(MultibootError) -> UInt32 {
        guard image.count >= headerOffset + 32 else { throw .truncatedHeader }
        let headerAddress = image.loadLE(UInt32.self, at: headerOffset + 12)
        let loadAddress = image.loadLE(UInt32.self, at: headerOffset + 16)
        let loadEndAddress = image.loadLE(UInt32.self, at: headerOffset + 20)
        let bssEndAddress = image.loadLE(UInt32.self, at: headerOffset + 24)
        let entryAddress = image.loadLE(UInt32.self, at: headerOffset + 28)
        // The file offset where loading starts: the header's own offset
        // minus how far into the loaded text it sits.
        guard loadAddress <= headerAddress, UInt64(headerAddress - loadAddress) <= UInt64(headerOffset) else {
            throw .badAddressFields(reason: .headerBeforeLoadAddress)
        }
        let fileOffset = headerOffset - Int(headerAddress - loadAddress)
        // load_end_addr 0: the text and data run to the end of the file.
        let fileSize: UInt64 =
            loadEndAddress == 0 ? UInt64(image.count - fileOffset) : UInt64(loadEndAddress) &- UInt64(loadAddress)
        guard loadEndAddress == 0 || loadEndAddress > loadAddress else {
            throw .badAddressFields(reason: .loadEndBeforeLoadAddress)
        }
        guard UInt64(fileOffset) + fileSize <= UInt64(image.count) else {
            throw .badAddressFields(reason: .loadEndPastFile)
        }
        let loadEnd = UInt64(loadAddress) + fileSize
        // bss_end_addr 0: no bss.
        guard bssEndAddress == 0 || UInt64(bssEndAddress) >= loadEnd else {
            throw .badAddressFields(reason: .bssEndBeforeLoadEnd)
        }
        let memorySize = bssEndAddress == 0 ? fileSize : UInt64(bssEndAddress) - UInt64(loadAddress)
        let segment = MultibootSegment(
            fileOffset: UInt64(fileOffset), fileSize: fileSize, address: UInt64(loadAddress), memorySize: memorySize)
        do throws(CapacityExceeded) { try segments.append(segment) } catch { throw .tooManySegments }
        guard segment.range.contains(UInt64(entryAddress)) else { throw .entryOutsideImage(entryAddress) }
        return entryAddress
    }

    /// Where a kernel may load, as far as it can be known without the
    /// machine's memory map (the image builder checks this; the plan checks
    /// it again at boot with the hypervisor's real range and the guest's
    /// map): every segment at or above 1 MiB, below 4 GiB, and outside
    /// `hypervisor`.
    ///
    /// Below 1 MiB lie the BIOS's data (IVT, BDA, EBDA), the boot stages'
    /// and pxHV's own low pages (the AP trampoline); GRUB Legacy refuses
    /// such kernels too ("Loading below 1MB is not supported"). Multiboot
    /// 0.6.96, "The address fields of Multiboot header", and the ELF
    /// program headers give 32-bit physical addresses: a segment that ends
    /// above 4 GiB wrapped.
    public func checkPlacement(hypervisor: PhysicalRange) throws(MultibootError) {
        try segments.withElements { (segments) throws(MultibootError) in
            for segment in segments {
                let range = segment.range
                guard range.start >= Self.lowestLoadAddress else {
                    throw .belowOneMiB(start: range.start, end: range.end)
                }
                guard range.end <= Self.addressLimit else { throw .above4GiB(start: range.start, end: range.end) }
                guard !range.overlaps(hypervisor) else {
                    throw .overlapsHypervisor(start: range.start, end: range.end, hypervisor: hypervisor)
                }
            }
        }
    }

    /// 1 MiB: the lowest address a segment may load at.
    public static let lowestLoadAddress: UInt64 = 0x10_0000
    /// 4 GiB: addresses in the header, program headers and boot
    /// information are 32-bit.
    public static let addressLimit: UInt64 = 0x1_0000_0000

    /// Lowest and highest+1 address the image occupies.
    public var range: PhysicalRange {
        segments.withElements { segments in
            var low = UInt64.max, high: UInt64 = 0
            for segment in segments {
                low = min(low, segment.address)
                high = max(high, segment.range.end)
            }
            return segments.isEmpty ? .placeholder : PhysicalRange(start: low, end: high)
        }
    }
}

/// Bytes copied from the file to `address`, then zeroes up to `memorySize`.
public struct MultibootSegment: Hashable, Sendable, BoundedArrayElement {
    public var fileOffset: UInt64
    public var fileSize: UInt64
    public var address: UInt64
    public var memorySize: UInt64

    public init(fileOffset: UInt64, fileSize: UInt64, address: UInt64, memorySize: UInt64) {
        self.fileOffset = fileOffset
        self.fileSize = fileSize
        self.address = address
        self.memorySize = memorySize
    }

    public static var placeholder: Self { Self(fileOffset: 0, fileSize: 0, address: 0, memorySize: 0) }
    public var range: PhysicalRange { PhysicalRange(start: address, length: memorySize) }
}

/// ELF32 program headers, for Multiboot images without the address
/// fields. System V ABI, "ELF Header" and "Program Header" (gABI 4.1):
/// little-endian i386 executables only; PT_LOAD segments load at p_paddr.
enum MultibootELF {
    static func parse(
        _ image: UnsafeRawBufferPointer, into segments: inout BoundedArray<16, MultibootSegment>
    ) throws(MultibootError) -> UInt32 {
        // e_ident: 7F 'E' 'L' 'F', ELFCLASS32 (1), ELFDATA2LSB (1);
        // e_type ET_EXEC (2); e_machine EM_386 (3).
        guard image.count >= 52, image.loadLE(UInt32.self, at: 0) == 0x464C_457F else { throw .notELF(.noMagic) }
        guard image[4] == 1, image[5] == 1 else { throw .notELF(.notClass32LittleEndian) }
        guard image.loadLE(UInt16.self, at: 16) == 2, image.loadLE(UInt16.self, at: 18) == 3 else {
            throw .notELF(.notI386Executable)
        }
        let entry = image.loadLE(UInt32.self, at: 0x18)
        let programHeaders = Int(image.loadLE(UInt32.self, at: 0x1C))
        let entrySize = Int(image.loadLE(UInt16.self, at: 0x2A))
        let count = Int(image.loadLE(UInt16.self, at: 0x2C))
        guard entrySize >= 32, programHeaders + count * entrySize <= image.count else {
            throw .notELF(.programHeadersOutsideFile)
        }
        var physicalEntry: UInt32?
        for index in 0..<count {
            let header = programHeaders + index * entrySize
            guard image.loadLE(UInt32.self, at: header) == 1 else { continue }  // PT_LOAD
            let offset = UInt64(image.loadLE(UInt32.self, at: header + 4))
            let virtualAddress = UInt64(image.loadLE(UInt32.self, at: header + 8))
            let physicalAddress = UInt64(image.loadLE(UInt32.self, at: header + 12))
            let fileSize = UInt64(image.loadLE(UInt32.self, at: header + 16))
            let memorySize = UInt64(image.loadLE(UInt32.self, at: header + 20))
            guard offset + fileSize <= UInt64(image.count), fileSize <= memorySize else {
                throw .segmentOutsideFile(index: index)
            }
            if memorySize == 0 { continue }
            let segment = MultibootSegment(
                fileOffset: offset, fileSize: fileSize, address: physicalAddress, memorySize: memorySize)
            do throws(CapacityExceeded) { try segments.append(segment) } catch { throw .tooManySegments }
            // e_entry is virtual: translate it through the segment holding it.
            let entry64 = UInt64(entry)
            if entry64 >= virtualAddress && entry64 < virtualAddress + memorySize {
                physicalEntry = UInt32(truncatingIfNeeded: entry64 - virtualAddress + physicalAddress)
            }
        }
        guard segments.count > 0 else { throw .noLoadableSegments }
        guard let physicalEntry else { throw .entryOutsideImage(entry) }
        return physicalEntry
    }
}

/// Why a Multiboot image cannot be loaded. Each case has a one-line `message`.
public enum MultibootError: Error, Equatable, Sendable {
    public enum AddressFieldProblem: Equatable, Sendable {
        case headerBeforeLoadAddress, loadEndBeforeLoadAddress, loadEndPastFile, bssEndBeforeLoadEnd
    }
    public enum NotELF: Equatable, Sendable {
        case noMagic, notClass32LittleEndian, notI386Executable, programHeadersOutsideFile
    }

    case noHeader
    case badChecksum(offset: Int, sum: UInt32)
    case unsupportedRequirements(UInt32)
    case truncatedHeader
    case badAddressFields(reason: AddressFieldProblem)
    case notELF(NotELF)
    case segmentOutsideFile(index: Int)
    case noLoadableSegments
    case tooManySegments
    case entryOutsideImage(UInt32)
    case notInUsableRAM(start: UInt64, end: UInt64)
    case belowOneMiB(start: UInt64, end: UInt64)
    case above4GiB(start: UInt64, end: UInt64)
    case overlapsHypervisor(start: UInt64, end: UInt64, hypervisor: PhysicalRange)
    case tooManyModules(count: Int, maximum: Int)
    case moduleDoesNotFit(index: Int, size: UInt64)
    case bootInformationDoesNotFit(size: UInt64)

    /// One line for `pxhv: error:`.
    public var message: Message {
        switch self {
        case .noHeader:
            "multiboot: no header (magic 0x1badb002, 4-byte aligned) in the first 8192 bytes"
        case .badChecksum(let offset, let sum):
            Message(template: "multiboot: header at {hex}: magic + flags + checksum = {hex}, expected 0",
                    UInt64(truncatingIfNeeded: offset), UInt64(truncatingIfNeeded: sum))
        case .unsupportedRequirements(let bits):
            Message(template: "multiboot: header requires flags {hex} this loader does not provide (video mode or unknown)",
                    UInt64(truncatingIfNeeded: bits))
        case .truncatedHeader:
            "multiboot: header with address fields (flags bit 16) is cut off by the end of the file"
        case .badAddressFields(.headerBeforeLoadAddress):
            "multiboot: header_addr is below load_addr or before the file's start"
        case .badAddressFields(.loadEndBeforeLoadAddress):
            "multiboot: load_end_addr is not above load_addr"
        case .badAddressFields(.loadEndPastFile):
            "multiboot: load_end_addr lies past the end of the file"
        case .badAddressFields(.bssEndBeforeLoadEnd):
            "multiboot: bss_end_addr is below load_end_addr"
        case .notELF(.noMagic):
            "multiboot: no address fields (flags bit 16 clear) and not an ELF file"
        case .notELF(.notClass32LittleEndian):
            "multiboot: ELF image is not 32-bit little-endian"
        case .notELF(.notI386Executable):
            "multiboot: ELF image is not an i386 executable (ET_EXEC, EM_386)"
        case .notELF(.programHeadersOutsideFile):
            "multiboot: ELF program headers lie outside the file"
        case .segmentOutsideFile(let index):
            Message(template: "multiboot: ELF program header {dec} points outside the file (or filesz > memsz)",
                    UInt64(truncatingIfNeeded: index))
        case .noLoadableSegments:
            "multiboot: ELF image has no PT_LOAD segment"
        case .tooManySegments:
            "multiboot: ELF image has more than 16 PT_LOAD segments"
        case .entryOutsideImage(let entry):
            Message(template: "multiboot: entry point {hex} is outside the loaded image", UInt64(truncatingIfNeeded: entry))
        case .notInUsableRAM(let start, let end):
            Message(template: "multiboot: image range [{hex}, {hex}) is not usable guest RAM",
                    UInt64(truncatingIfNeeded: start), UInt64(truncatingIfNeeded: end))
        case .belowOneMiB(let start, let end):
            Message(template: "multiboot: segment [{hex}, {hex}) loads below 1 MiB (BIOS and boot data): link the kernel at 0x100000 or above",
                    start, end)
        case .above4GiB(let start, let end):
            Message(template: "multiboot: segment [{hex}, {hex}) ends above 4 GiB", start, end)
        case .overlapsHypervisor(let start, let end, let hypervisor):
            Message(template: "multiboot: segment [{hex}, {hex}) overlaps the hypervisor's memory [{hex}, {hex}): link the kernel below it or above it",
                    start, end, hypervisor.start, hypervisor.end)
        case .tooManyModules(let count, let maximum):
            Message(template: "multiboot: {dec} modules, at most {dec} supported",
                    UInt64(truncatingIfNeeded: count), UInt64(truncatingIfNeeded: maximum))
        case .moduleDoesNotFit(let index, let size):
            Message(template: "multiboot: no usable guest RAM for module {dec} ({hex} bytes) above the image and below 4 GiB",
                    UInt64(truncatingIfNeeded: index), UInt64(truncatingIfNeeded: size))
        case .bootInformationDoesNotFit(let size):
            Message(template: "multiboot: no usable guest RAM for the boot information ({hex} bytes) above the image and modules and below 4 GiB",
                    size)
        }
    }
}
