import BIOSServices
import Testing

@Suite struct DiskGeometryTests {
    // (bytes, cylinders, heads, sectors): the PC floppy formats.
    static let floppies: [(Int, UInt32, UInt32, UInt32)] = [
        (160 * 1024, 40, 1, 8), (180 * 1024, 40, 1, 9), (320 * 1024, 40, 2, 8), (360 * 1024, 40, 2, 9),
        (720 * 1024, 80, 2, 9), (1200 * 1024, 80, 2, 15), (1440 * 1024, 80, 2, 18), (2880 * 1024, 80, 2, 36),
    ]

    @Test(arguments: floppies)
    func floppyFormats(_ format: (Int, UInt32, UInt32, UInt32)) throws {
        let g = try DiskGeometry(imageSize: format.0)
        #expect(g.isFloppy)
        #expect(g.cylinders == format.1)
        #expect(g.heads == format.2)
        #expect(g.sectorsPerTrack == format.3)
        #expect(g.totalSectors == UInt64(format.0 / 512))
    }

    @Test func floppyDriveTypes() throws {
        #expect(try DiskGeometry(imageSize: 360 * 1024).floppyDriveType == 1)
        #expect(try DiskGeometry(imageSize: 160 * 1024).floppyDriveType == 1)
        #expect(try DiskGeometry(imageSize: 1200 * 1024).floppyDriveType == 2)
        #expect(try DiskGeometry(imageSize: 720 * 1024).floppyDriveType == 3)
        #expect(try DiskGeometry(imageSize: 1440 * 1024).floppyDriveType == 4)
        #expect(try DiskGeometry(imageSize: 2880 * 1024).floppyDriveType == 6)
    }

    // (sectors, cylinders, heads): LBA-assist picks the fewest heads keeping cylinders <= 1024.
    static let hardDisks: [(Int, UInt32, UInt32)] = [
        (8192, 8, 16),  // 4 MiB
        (1024 * 16 * 63, 1024, 16),  // 504 MiB: the last 16-head size
        (1024 * 16 * 63 + 1008, 512, 32),  // one cylinder more: 32 heads
        (3_000_000, 744, 64),
        (6_000_000, 744, 128),
        (20_000_000, 1024, 255),  // capped at 1024 cylinders
    ]

    @Test(arguments: hardDisks)
    func hardDiskTranslation(_ disk: (Int, UInt32, UInt32)) throws {
        let g = try DiskGeometry(imageSize: disk.0 * 512)
        #expect(!g.isFloppy)
        #expect(g.sectorsPerTrack == 63)
        #expect(g.heads == disk.2)
        #expect(g.cylinders == disk.1)
        #expect(g.totalSectors == UInt64(disk.0))
    }

    @Test(arguments: [0, 1000, 512 * 100, 1_474_561, 2_948_608, 3_000_001])
    func rejectedSizes(_ size: Int) {
        #expect(throws: DiskGeometryError(imageSize: size)) { try DiskGeometry(imageSize: size) }
        let text = DiskGeometryError(imageSize: size).message.text
        #expect(text.contains(" \(size) bytes"))
        #expect(!text.contains("\n"))
    }

    @Test func chsToLBA() throws {
        let g = try DiskGeometry(imageSize: 1440 * 1024)
        #expect(g.lba(cylinder: 0, head: 0, sector: 1) == 0)
        #expect(g.lba(cylinder: 0, head: 1, sector: 1) == 18)
        #expect(g.lba(cylinder: 1, head: 0, sector: 3) == 38)
        #expect(g.lba(cylinder: 79, head: 1, sector: 18) == 2879)
        #expect(g.lba(cylinder: 0, head: 0, sector: 0) == nil)
        #expect(g.lba(cylinder: 0, head: 0, sector: 19) == nil)
        #expect(g.lba(cylinder: 0, head: 2, sector: 1) == nil)
        #expect(g.lba(cylinder: 80, head: 0, sector: 1) == nil)
    }
}
