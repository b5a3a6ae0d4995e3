import BIOSServices
import Foundation
import Loader
import Testing
@testable import PXHVToolKit

/// Synthetic disk images in a temporary directory, checked as
/// `--guest bios --disk-image` checks them.
struct DiskImageFixture {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pxhv-bios-image-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// `size` bytes, sector 0 ending 0x55 0xAA unless `signature` is false.
    static func image(size: Int, signature: Bool = true) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        if signature && size >= 512 {
            bytes[510] = 0x55
            bytes[511] = 0xAA
        }
        return bytes
    }

    /// A partition table entry (index 0..3): boot flag, type, first LBA, sectors.
    static func setPartition(_ bytes: inout [UInt8], _ index: Int, bootFlag: UInt8, type: UInt8, start: UInt32, count: UInt32) {
        let offset = 0x1BE + 16 * index
        bytes[offset] = bootFlag
        bytes[offset + 4] = type
        for i in 0..<4 {
            bytes[offset + 8 + i] = UInt8(truncatingIfNeeded: start >> (8 * i))
            bytes[offset + 12 + i] = UInt8(truncatingIfNeeded: count >> (8 * i))
        }
    }

    func write(_ bytes: [UInt8], name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// The error line checking the file gives, or nil if it is accepted.
    func error(_ bytes: [UInt8], name: String = "disk.img") throws -> String? {
        let url = try write(bytes, name: name)
        do {
            _ = try BIOSDiskImage(contentsOf: url)
            return nil
        } catch let error as ToolError {
            return error.message
        }
    }
}

/// A hard disk of 4 MiB (8192 sectors): above the largest floppy.
let hardDiskBytes = 4 << 20

@Test(arguments: [
    (163_840, 40, 1, 8), (184_320, 40, 1, 9), (327_680, 40, 2, 8), (368_640, 40, 2, 9),
    (737_280, 80, 2, 9), (1_228_800, 80, 2, 15), (1_474_560, 80, 2, 18), (2_949_120, 80, 2, 36),
])
func everyFloppySizeIsAFloppyOnDrive0(size: Int, cylinders: UInt32, heads: UInt32, sectors: UInt32) throws {
    let fixture = try DiskImageFixture()
    defer { fixture.remove() }
    let url = try fixture.write(DiskImageFixture.image(size: size), name: "floppy.img")
    let image = try BIOSDiskImage(contentsOf: url)
    #expect(image.geometry.isFloppy)
    #expect(image.driveNumber == 0x00)
    #expect((image.geometry.cylinders, image.geometry.heads, image.geometry.sectorsPerTrack) == (cylinders, heads, sectors))
    let blob = image.blob
    #expect(blob.kind == .diskImage && blob.flags == 0x00 && blob.bytes.count == size)
}

@Test func aHardDiskWithASanePartitionTableIsDrive0x80() throws {
    let fixture = try DiskImageFixture()
    defer { fixture.remove() }
    var bytes = DiskImageFixture.image(size: hardDiskBytes)
    DiskImageFixture.setPartition(&bytes, 0, bootFlag: 0x80, type: 0x06, start: 63, count: 8129)
    DiskImageFixture.setPartition(&bytes, 1, bootFlag: 0x00, type: 0x00, start: 0, count: 0)
    let image = try BIOSDiskImage(contentsOf: try fixture.write(bytes, name: "hd.img"))
    #expect(!image.geometry.isFloppy)
    #expect(image.driveNumber == 0x80)
    #expect(image.geometry.totalSectors == 8192)
    #expect(image.blob.flags == 0x80 && firstDifference(image.blob.bytes, bytes) == nil)
    #expect(image.summary == "hard disk 8/16/63 (C/H/S), drive 0x80")
    // An empty table (all entries unused) is a hard disk too: its MBR code decides.
    #expect(try fixture.error(DiskImageFixture.image(size: hardDiskBytes)) == nil)
    // The largest image accepted, exactly 64 MiB.
    #expect(try fixture.error(DiskImageFixture.image(size: BIOSDiskImage.maximumBytes)) == nil)
}

@Test func badSizesAreRefusedWithOneLine() throws {
    let fixture = try DiskImageFixture()
    defer { fixture.remove() }
    let path = fixture.directory.appendingPathComponent("disk.img").path
    func neither(_ size: Int) -> String {
        "\(path): \(size) bytes: neither a standard floppy size (160K, 180K, 320K, 360K, 720K, 1.2M, 1.44M, 2.88M) nor a hard disk (whole 512-byte sectors, more than 2949120 bytes)"
    }
    #expect(try fixture.error([]) == neither(0))
    #expect(try fixture.error(DiskImageFixture.image(size: 1000)) == neither(1000))
    // Whole sectors, but not a floppy size and too small for a hard disk
    // (the hypervisor's DiskGeometry would give it no geometry).
    #expect(try fixture.error(DiskImageFixture.image(size: 1_474_560 + 512)) == neither(1_474_560 + 512))
    #expect(try fixture.error(DiskImageFixture.image(size: hardDiskBytes + 100)) == neither(hardDiskBytes + 100))
    let tooLarge = BIOSDiskImage.maximumBytes + 512
    #expect(try fixture.error(DiskImageFixture.image(size: tooLarge)) ==
        "\(path): \(tooLarge) bytes: larger than the 64 MiB a BIOS guest's disk image may have (the payload carries it whole)")
}

@Test func aMissingBootSignatureIsRefused() throws {
    let fixture = try DiskImageFixture()
    defer { fixture.remove() }
    let path = fixture.directory.appendingPathComponent("disk.img").path
    #expect(try fixture.error(DiskImageFixture.image(size: 1_474_560, signature: false)) ==
        "\(path): no boot signature: bytes 0x1fe-0x1ff of sector 0 are 0x00 0x00, not 0x55 0xaa")
    var swapped = DiskImageFixture.image(size: hardDiskBytes, signature: false)
    swapped[510] = 0xAA
    swapped[511] = 0x55
    #expect(try fixture.error(swapped) == "\(path): no boot signature: bytes 0x1fe-0x1ff of sector 0 are 0xaa 0x55, not 0x55 0xaa")
}

@Test func anInsanePartitionTableIsRefusedNamingTheEntry() throws {
    let fixture = try DiskImageFixture()
    defer { fixture.remove() }
    let path = fixture.directory.appendingPathComponent("disk.img").path
    func table(_ build: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = DiskImageFixture.image(size: hardDiskBytes)
        build(&bytes)
        return bytes
    }
    #expect(try fixture.error(table { DiskImageFixture.setPartition(&$0, 1, bootFlag: 0x12, type: 0x06, start: 63, count: 100) }) ==
        "\(path): partition table entry 2 (offset 0x1ce): boot flag 0x12, not 0x00 or 0x80")
    // The boot flag of an unused entry counts too: a table with garbage in it is no table.
    #expect(try fixture.error(table { DiskImageFixture.setPartition(&$0, 3, bootFlag: 0x01, type: 0x00, start: 0, count: 0) }) ==
        "\(path): partition table entry 4 (offset 0x1ee): boot flag 0x01, not 0x00 or 0x80")
    #expect(try fixture.error(table {
        DiskImageFixture.setPartition(&$0, 0, bootFlag: 0x80, type: 0x06, start: 63, count: 100)
        DiskImageFixture.setPartition(&$0, 2, bootFlag: 0x80, type: 0x06, start: 200, count: 100)
    }) == "\(path): partition table entry 3 (offset 0x1de): marked active (0x80), and so is entry 1: at most one may be")
    #expect(try fixture.error(table { DiskImageFixture.setPartition(&$0, 0, bootFlag: 0x80, type: 0x06, start: 2048, count: 8192) }) ==
        "\(path): partition table entry 1 (offset 0x1be): sectors 2048-10239 run past the image's end (8192 sectors)")
    #expect(try fixture.error(table { DiskImageFixture.setPartition(&$0, 0, bootFlag: 0x00, type: 0x0C, start: 0, count: 100) }) ==
        "\(path): partition table entry 1 (offset 0x1be): type 0x0c with first sector 0 and 100 sectors: a used partition starts after sector 0 and has sectors")
    // A partition ending exactly at the image's last sector is fine.
    #expect(try fixture.error(table { DiskImageFixture.setPartition(&$0, 0, bootFlag: 0x80, type: 0x06, start: 1, count: 8191) }) == nil)
}

@Test func anUnreadableImageAndAMissingOptionAreOneLine() throws {
    let missing = FileManager.default.temporaryDirectory.appendingPathComponent("pxhv-no-such-\(UUID().uuidString).img")
    #expect(throws: ToolError.self) { try BIOSDiskImage(contentsOf: missing) }
    do {
        _ = try BIOSDiskImage(contentsOf: missing)
    } catch let error as ToolError {
        #expect(error.message.hasPrefix("\(missing.path): cannot read the disk image ("))
        #expect(!error.message.contains("\n"))
    }
    var options = ImageOptions(packageDirectory: packageDirectory)
    options.guest = .bios
    #expect(throws: ToolError.self) { try ImageBuilder(options: options).guestBlobs() }
}

/// A bad image stops `guestBlobs`, which `build` runs before it builds or
/// writes anything: the output directory holds nothing.
@Test func aBadImageWritesNothing() throws {
    let fixture = try DiskImageFixture()
    defer { fixture.remove() }
    var options = ImageOptions(packageDirectory: packageDirectory, outputDirectory: fixture.directory.appendingPathComponent("out"))
    options.guest = .bios
    options.diskImage = try fixture.write(DiskImageFixture.image(size: 1_474_560, signature: false), name: "bad.img")
    #expect(throws: ToolError.self) { try ImageBuilder(options: options).build() }
    let written = (try? FileManager.default.contentsOfDirectory(atPath: options.outputDirectory.path)) ?? []
    #expect(written.isEmpty, "written after the error: \(written)")

    options.diskImage = try fixture.write(DiskImageFixture.image(size: 1_474_560), name: "good.img")
    let blobs = try ImageBuilder(options: options).guestBlobs()
    #expect(blobs.count == 1 && blobs[0].kind == .diskImage && blobs[0].flags == 0)
}

@Test func diskGuestOptionsParseAndRefuseTheWrongGuest() throws {
    func parse(_ arguments: [String]) throws -> ImageOptions {
        var parser = ArgumentParser(arguments)
        var options = ImageOptions(packageDirectory: packageDirectory)
        if let guest = parser.value("--guest") { options.guest = GuestChoice(rawValue: guest)! }
        try options.parseDiskGuestOptions(&parser)
        try parser.finish()
        return options
    }
    let bios = try parse(["--guest", "bios", "--disk-image", "/tmp/d.img"])
    #expect(bios.diskImage?.path == "/tmp/d.img")
    let freedos = try parse(["--guest", "freedos", "--freedos", "/tmp/f.img", "--freedos-poweroff", "fdapm"])
    #expect(freedos.freeDOSImage?.path == "/tmp/f.img" && freedos.freeDOSPowerOff == .fdapm)
    #expect(try parse(["--guest", "freedos", "--freedos", "/tmp/f.img"]).freeDOSPowerOff == .hypercall)
    func message(_ arguments: [String]) -> String? {
        do { _ = try parse(arguments); return nil } catch let error as ToolError { return error.message } catch { return "\(error)" }
    }
    #expect(message(["--guest", "linux", "--disk-image", "/tmp/d.img"]) == "--disk-image is for --guest bios")
    #expect(message(["--guest", "bios", "--freedos", "/tmp/f.img"]) == "--freedos and --freedos-poweroff are for --guest freedos")
    #expect(message(["--guest", "freedos", "--freedos-poweroff", "acpi"]) == "--freedos-poweroff acpi: choose hypercall or fdapm")
}
