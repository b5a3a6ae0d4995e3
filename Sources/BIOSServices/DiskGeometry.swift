import Primitives

/// The CHS geometry the BIOS reports for a disk image, decided by its size.
///
/// Floppies: the eight standard PC formats, which the size alone names.
/// Hard disks: whole 512-byte sectors, larger than the largest floppy,
/// translated with the "LBA-assist" rule of the Phoenix "BIOS Enhanced Disk
/// Drive Specification" v3.0 (table "LBA Assist translation"): 63 sectors
/// per track, and the fewest heads of 16, 32, 64, 128, 255 that keep the
/// cylinder count at or under 1024; cylinders beyond 1024 are cut off (the
/// sectors past them are reachable through the extended functions only).
public struct DiskGeometry: Equatable, Sendable {
    public static let bytesPerSector = 512

    public var cylinders: UInt32
    public var heads: UInt32
    public var sectorsPerTrack: UInt32
    /// Every sector of the image (may exceed C*H*S on a large hard disk).
    public var totalSectors: UInt64
    public var isFloppy: Bool

    public init(cylinders: UInt32, heads: UInt32, sectorsPerTrack: UInt32, totalSectors: UInt64, isFloppy: Bool) {
        self.cylinders = cylinders
        self.heads = heads
        self.sectorsPerTrack = sectorsPerTrack
        self.totalSectors = totalSectors
        self.isFloppy = isFloppy
    }

    /// The largest floppy: 2.88 MB, 80/2/36.
    public static let largestFloppyBytes = 2_949_120

    /// The geometry of an image of `imageSize` bytes.
    public init(imageSize: Int) throws(DiskGeometryError) {
        for format in Self.floppyFormats where format.bytes == imageSize {
            self.init(
                cylinders: format.cylinders, heads: format.heads, sectorsPerTrack: format.sectors,
                totalSectors: UInt64(imageSize / Self.bytesPerSector), isFloppy: true)
            return
        }
        guard imageSize > Self.largestFloppyBytes, imageSize % Self.bytesPerSector == 0 else {
            throw DiskGeometryError(imageSize: imageSize)
        }
        let total = UInt64(imageSize / Self.bytesPerSector)
        let sectors: UInt64 = 63
        var heads: UInt64 = 16
        while heads < 255, total / (heads * sectors) > 1024 {
            heads = heads == 128 ? 255 : heads * 2
        }
        let cylinders = min(total / (heads * sectors), 1024)
        self.init(
            cylinders: UInt32(cylinders), heads: UInt32(heads), sectorsPerTrack: UInt32(sectors),
            totalSectors: total, isFloppy: false)
    }

    /// Sectors reachable by CHS: C*H*S.
    public var chsSectors: UInt64 { UInt64(cylinders) * UInt64(heads) * UInt64(sectorsPerTrack) }

    /// The LBA of a CHS address, or nil when it is outside the geometry
    /// (sector numbers are 1-based).
    public func lba(cylinder: UInt32, head: UInt32, sector: UInt32) -> UInt64? {
        guard cylinder < cylinders, head < heads, sector >= 1, sector <= sectorsPerTrack else { return nil }
        return (UInt64(cylinder) * UInt64(heads) + UInt64(head)) * UInt64(sectorsPerTrack) + UInt64(sector - 1)
    }

    /// The drive type INT 13h AH=08h returns in BL for a floppy (RBIL
    /// #00242 "diskette drive type"): 01h 360K, 02h 1.2M, 03h 720K,
    /// 04h 1.44M, 06h 2.88M; 0 for a hard disk.
    public var floppyDriveType: UInt8 {
        guard isFloppy else { return 0 }
        switch (cylinders, sectorsPerTrack) {
        case (40, _): return 0x01
        case (80, 15): return 0x02
        case (80, 9): return 0x03
        case (80, 18): return 0x04
        default: return 0x06
        }
    }

    struct FloppyFormat {
        var bytes: Int
        var cylinders: UInt32
        var heads: UInt32
        var sectors: UInt32
    }

    static let floppyFormats: [FloppyFormat] = [
        FloppyFormat(bytes: 163_840, cylinders: 40, heads: 1, sectors: 8),
        FloppyFormat(bytes: 184_320, cylinders: 40, heads: 1, sectors: 9),
        FloppyFormat(bytes: 327_680, cylinders: 40, heads: 2, sectors: 8),
        FloppyFormat(bytes: 368_640, cylinders: 40, heads: 2, sectors: 9),
        FloppyFormat(bytes: 737_280, cylinders: 80, heads: 2, sectors: 9),
        FloppyFormat(bytes: 1_228_800, cylinders: 80, heads: 2, sectors: 15),
        FloppyFormat(bytes: 1_474_560, cylinders: 80, heads: 2, sectors: 18),
        FloppyFormat(bytes: 2_949_120, cylinders: 80, heads: 2, sectors: 36),
    ]
}

/// An image size that is neither a standard floppy nor a whole number of
/// sectors larger than the largest floppy.
public struct DiskGeometryError: Error, Equatable, Sendable {
    public var imageSize: Int

    public init(imageSize: Int) { self.imageSize = imageSize }

    public var message: Message {
        "disk image of \(imageSize) bytes: neither a standard floppy size nor whole 512-byte sectors above 2949120 bytes"
    }
}
