import Primitives

/// Guest memory as a BIOS service reads and writes it: physical access
/// plus the question every service asks before touching a buffer the
/// guest named.
public protocol BIOSMemory: PhysicalMemory {
    /// True when every byte of `[address, address + count)` is guest RAM the
    /// service may read and write: not the hypervisor's, not MMIO or ROM,
    /// not past the end (an overflowing range is not accessible).
    func isAccessible(at address: UInt64, count: UInt64) -> Bool
}

/// INT 13h status codes (AH on return), Ralf Brown's Interrupt List,
/// table #00234 "Values for disk operation status".
public enum DiskStatus {
    public static let success: UInt8 = 0x00
    /// Invalid function in AH or invalid parameter.
    public static let invalidParameter: UInt8 = 0x01
    /// Address mark not found.
    public static let addressMarkNotFound: UInt8 = 0x02
    /// Sector not found / read error.
    public static let sectorNotFound: UInt8 = 0x04
    /// Unsupported track or invalid media.
    public static let unsupportedTrack: UInt8 = 0x0C
}

/// The BIOS disk services (INT 13h) on one disk image, for a real-mode
/// guest: registers in, registers out; data moves between the image and
/// guest-physical memory.
///
/// Sources: Ralf Brown's Interrupt List (RBIL), INT 13 AH=00h..15h, 41h..48h;
/// Phoenix "BIOS Enhanced Disk Drive Specification" v3.0 (EDD), sections
/// "Int 13h Extensions" (41h..48h) and "Device Address Packet".
///
/// What a real BIOS does and this one does not:
/// - No 64 KiB DMA-boundary error (AH=09h): that limit belongs to the ISA
///   DMA controller a floppy transfer goes through; here the copy is made
///   by the hypervisor, so no transfer can fail that way, and EDD's
///   "DMA boundary errors handled transparently" flag is reported set.
/// - Buffers are linear: ES:BX + n*512 runs on past offset FFFFh into the
///   next segment (a real controller's DMA does the same with 20-bit
///   addresses), and there is no A20 wrap.
/// - The extended functions (41h..48h) serve hard disks (DL >= 80h) only,
///   like most BIOSes; on a floppy they fail with AH=01h.
/// - Every buffer, packet and result table the guest names is checked
///   (`BIOSMemory.isAccessible`) before a byte moves: one that is not
///   guest RAM (the hypervisor's memory, MMIO, ROM, past the end of RAM)
///   fails the call with AH=01h and moves nothing.
public struct INT13Service {
    /// Drives the BIOS reports: DL of AH=08h (floppies for a floppy, hard
    /// disks for a hard disk).
    public var floppyCount: UInt8
    public var hardDiskCount: UInt8
    /// Where the guest finds the diskette parameter table (ES:DI of AH=08h
    /// for a floppy); the caller places the table.
    public var disketteParameterTable: FarPointer

    /// "Last status" per drive number (AH=01h).
    var lastStatus = InlineArray<256, UInt8>(repeating: 0)

    public init(floppyCount: UInt8, hardDiskCount: UInt8, disketteParameterTable: FarPointer) {
        self.floppyCount = floppyCount
        self.hardDiskCount = hardDiskCount
        self.disketteParameterTable = disketteParameterTable
    }

    /// The status AH=01h would report for `drive`.
    public func lastStatus(drive: UInt8) -> UInt8 { lastStatus[Int(drive)] }

    /// EDD major version reported by AH=41h: 21h, EDD 1.1 (the 1Ah-byte
    /// AH=48h result, no device parameter table extension).
    public static let eddVersion: UInt8 = 0x21

    /// Serves one INT 13h call for `drive` (the drive DL names, already
    /// matched to this image by the caller).
    public mutating func handle<Memory: BIOSMemory>(
        registers r: inout BIOSRegisters, drive: UInt8, image: UnsafeMutableRawBufferPointer,
        geometry: DiskGeometry, memory: inout Memory
    ) {
        let isHardDisk = drive >= 0x80
        var status = DiskStatus.success
        switch r.ah {
        case 0x00:  // Reset disk system.
            break
        case 0x01:
            // RBIL INT 13/AH=01h: AH = status of the previous operation,
            // CF set if it was an error (some BIOSes return it in AL too:
            // we do both). The stored status is left as it is.
            let previous = lastStatus[Int(drive)]
            r.ah = previous
            r.al = previous
            r.carry = previous != 0
            return
        case 0x02, 0x03, 0x04:
            status = chsTransfer(&r, image: image, geometry: geometry, memory: &memory)
        case 0x08:
            // RBIL INT 13/AH=08h: CH = low eight bits of the maximum
            // cylinder, CL bits 7-6 its high two bits and bits 5-0 the
            // maximum sector, DH the maximum head, DL the drive count;
            // floppies: BL drive type, ES:DI the parameter table, AX = 0.
            let maxCylinder = geometry.cylinders - 1
            r.ch = UInt8(truncatingIfNeeded: maxCylinder)
            r.cl = UInt8(truncatingIfNeeded: (maxCylinder >> 2) & 0xC0) | UInt8(geometry.sectorsPerTrack & 0x3F)
            r.dh = UInt8(truncatingIfNeeded: geometry.heads - 1)
            if geometry.isFloppy {
                r.dl = floppyCount
                r.bl = geometry.floppyDriveType
                r.bh = 0
                r.es = disketteParameterTable.segment
                r.di = disketteParameterTable.offset
                r.al = 0
            } else {
                r.dl = hardDiskCount
            }
        case 0x15:
            // RBIL INT 13/AH=15h: AH = type (01h floppy without change-line
            // support: media never changes here; 03h hard disk with CX:DX
            // the number of 512-byte sectors), CF clear.
            lastStatus[Int(drive)] = DiskStatus.success
            r.carry = false
            if isHardDisk {
                let sectors = UInt32(truncatingIfNeeded: min(geometry.chsSectors, UInt64(UInt32.max)))
                r.cx = UInt16(truncatingIfNeeded: sectors >> 16)
                r.dx = UInt16(truncatingIfNeeded: sectors)
                r.ah = 0x03
            } else {
                r.ah = 0x01
            }
            return
        case 0x41 where isHardDisk:
            // EDD "Check Extensions Present": BX 55AAh in, AA55h out;
            // AH = version, CX bit 0 = the fixed-disk access subset
            // (42h, 43h, 44h, 47h, 48h).
            guard r.bx == 0x55AA else {
                status = DiskStatus.invalidParameter
                break
            }
            r.bx = 0xAA55
            r.cx = 0x0001
            r.ah = Self.eddVersion
            r.carry = false
            lastStatus[Int(drive)] = DiskStatus.success
            return
        case 0x42 where isHardDisk, 0x43 where isHardDisk, 0x44 where isHardDisk:
            status = extendedTransfer(&r, image: image, geometry: geometry, memory: &memory)
        case 0x47 where isHardDisk:
            // Extended seek: only the LBA is checked.
            status = extendedTransfer(&r, image: image, geometry: geometry, memory: &memory)
        case 0x48 where isHardDisk:
            status = extendedParameters(&r, geometry: geometry, memory: &memory)
        default:
            status = DiskStatus.invalidParameter
        }
        lastStatus[Int(drive)] = status
        r.ah = status
        r.carry = status != DiskStatus.success
    }

    /// AH=02h read, 03h write, 04h verify: AL sectors from CH/CL/DH at
    /// ES:BX. AL returns the sectors done. RBIL: AL = 0 is invalid (01h);
    /// an address outside the geometry is "sector not found" (04h); a run
    /// of sectors continues across heads and cylinders and stops with 04h
    /// at the end of the disk, AL the sectors done before it.
    func chsTransfer<Memory: BIOSMemory>(
        _ r: inout BIOSRegisters, image: UnsafeMutableRawBufferPointer, geometry: DiskGeometry,
        memory: inout Memory
    ) -> UInt8 {
        let count = UInt64(r.al)
        guard count != 0 else { return DiskStatus.invalidParameter }
        let cylinder = UInt32(r.ch) | UInt32(r.cl & 0xC0) << 2
        let sector = UInt32(r.cl & 0x3F)
        guard let lba = geometry.lba(cylinder: cylinder, head: UInt32(r.dh), sector: sector) else {
            r.al = 0
            return DiskStatus.sectorNotFound
        }
        let available = min(count, geometry.chsSectors - lba)
        let buffer = FarPointer(segment: r.es, offset: r.bx).linear
        if r.ah != 0x04 && available > 0 && !memory.isAccessible(at: buffer, count: available * UInt64(DiskGeometry.bytesPerSector)) {
            r.al = 0
            return DiskStatus.invalidParameter
        }
        copy(function: r.ah, lba: lba, count: available, buffer: buffer, image: image, memory: &memory)
        r.al = UInt8(available)
        return available == count ? DiskStatus.success : DiskStatus.sectorNotFound
    }

    /// EDD "Device Address Packet" at DS:SI: byte 0 size (10h, or 18h
    /// and more with the 64-bit flat buffer at 10h used when the buffer
    /// pointer is FFFF:FFFFh), word 2 the block count (at most 7Fh; 0
    /// moves nothing), dword 4 the buffer offset:segment, qword 8 the LBA.
    /// A packet shorter than 10h, or a count above 7Fh, is rejected (01h);
    /// sectors past the end stop the transfer with 04h and the count
    /// field is rewritten with the blocks moved.
    func extendedTransfer<Memory: BIOSMemory>(
        _ r: inout BIOSRegisters, image: UnsafeMutableRawBufferPointer, geometry: DiskGeometry,
        memory: inout Memory
    ) -> UInt8 {
        let packet = FarPointer(segment: r.ds, offset: r.si).linear
        guard memory.isAccessible(at: packet, count: 0x10) else { return DiskStatus.invalidParameter }
        let size = memory.load(UInt8.self, at: packet)
        guard size >= 0x10 else { return DiskStatus.invalidParameter }
        let lba = memory.load(UInt64.self, at: packet + 8)
        if r.ah == 0x47 {
            return lba < geometry.totalSectors ? DiskStatus.success : DiskStatus.sectorNotFound
        }
        let count = UInt64(memory.load(UInt16.self, at: packet + 2))
        guard count <= 0x7F else { return DiskStatus.invalidParameter }
        var buffer = FarPointer(
            segment: memory.load(UInt16.self, at: packet + 6), offset: memory.load(UInt16.self, at: packet + 4))
        var linear = buffer.linear
        if buffer.segment == 0xFFFF, buffer.offset == 0xFFFF {
            guard size >= 0x18, memory.isAccessible(at: packet, count: 0x18) else { return DiskStatus.invalidParameter }
            linear = memory.load(UInt64.self, at: packet + 0x10)
            buffer = FarPointer(segment: 0, offset: 0)
        }
        let available = lba >= geometry.totalSectors ? 0 : min(count, geometry.totalSectors - lba)
        if r.ah != 0x44 && available > 0 && !memory.isAccessible(at: linear, count: available * UInt64(DiskGeometry.bytesPerSector)) {
            memory.store(UInt16(0), at: packet + 2)
            return DiskStatus.invalidParameter
        }
        copy(function: r.ah - 0x40, lba: lba, count: available, buffer: linear, image: image, memory: &memory)
        if available != count {
            memory.store(UInt16(available), at: packet + 2)
            return DiskStatus.sectorNotFound
        }
        return DiskStatus.success
    }

    /// EDD AH=48h "Get Drive Parameters": the result buffer at DS:SI, its
    /// word 0 the caller's buffer size. Fewer than 1Ah bytes is rejected
    /// (01h); otherwise the EDD 1.1 table is written and the size set to
    /// 1Ah: word 2 flags (bit 0 DMA boundary errors handled, bit 1 the CHS
    /// fields valid), dwords 4/8/Ch cylinders/heads/sectors per track,
    /// qword 10h total sectors, word 18h bytes per sector.
    func extendedParameters<Memory: BIOSMemory>(
        _ r: inout BIOSRegisters, geometry: DiskGeometry, memory: inout Memory
    ) -> UInt8 {
        let result = FarPointer(segment: r.ds, offset: r.si).linear
        guard memory.isAccessible(at: result, count: 0x1A) else { return DiskStatus.invalidParameter }
        guard memory.load(UInt16.self, at: result) >= 0x1A else { return DiskStatus.invalidParameter }
        let chsValid = geometry.chsSectors == geometry.totalSectors
        memory.store(UInt16(0x1A), at: result)
        memory.store(UInt16(chsValid ? 0x0003 : 0x0001), at: result + 2)
        memory.store(geometry.cylinders, at: result + 4)
        memory.store(geometry.heads, at: result + 8)
        memory.store(geometry.sectorsPerTrack, at: result + 0x0C)
        memory.store(geometry.totalSectors, at: result + 0x10)
        memory.store(UInt16(DiskGeometry.bytesPerSector), at: result + 0x18)
        return DiskStatus.success
    }

    /// Moves `count` sectors from `lba`: function 2 reads (image to
    /// memory), 3 writes (memory to image), anything else only verifies.
    func copy<Memory: PhysicalMemory>(
        function: UInt8, lba: UInt64, count: UInt64, buffer: UInt64, image: UnsafeMutableRawBufferPointer,
        memory: inout Memory
    ) {
        guard count > 0 else { return }
        let sectorBytes = UInt64(DiskGeometry.bytesPerSector)
        let start = Int(lba * sectorBytes)
        let length = Int(count * sectorBytes)
        switch function {
        case 0x02:
            memory.storeBytes(UnsafeRawBufferPointer(rebasing: image[start..<start + length]), at: buffer)
        case 0x03:
            var offset = 0
            while offset < length {
                image.storeBytes(
                    of: memory.load(UInt64.self, at: buffer + UInt64(offset)).littleEndian,
                    toByteOffset: start + offset, as: UInt64.self)
                offset += 8
            }
        default:
            break
        }
    }
}
