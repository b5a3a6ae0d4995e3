import BIOSServices
import Foundation
import Loader

/// A disk image a BIOS guest boots (`--guest bios --disk-image PATH`),
/// checked before it goes into the payload.
///
/// The size decides the kind, by the same rule the hypervisor's INT 13h
/// uses (`BIOSServices.DiskGeometry`): one of the eight standard floppy
/// sizes is a floppy (BIOS drive 0x00); whole 512-byte sectors above the
/// largest floppy are a hard disk (drive 0x80) with a master boot record.
/// Either way the BIOS loads sector 0 at 0:7C00 and jumps there, so it must
/// end with the boot signature 0x55 0xAA.
public struct BIOSDiskImage: Sendable {
    public var bytes: [UInt8]
    public var geometry: DiskGeometry

    /// The payload carries the whole image, and stage 2 copies the payload
    /// to 2 MiB, where the hypervisor keeps it hidden from the guest
    /// (Guest/README.md): a disk image costs the guest its size in RAM and
    /// stage 2 its size in BIOS disk reads before anything runs. 64 MiB
    /// holds any floppy and a DOS-era hard disk with room to spare and
    /// leaves most of the default 512 MiB to the guest.
    public static let maximumBytes = 64 << 20

    /// BIOS drive number: 0x00 the first floppy, 0x80 the first hard disk
    /// (the payload entry's flags, bits 7:0; PayloadKind.diskImage).
    public var driveNumber: UInt8 { geometry.isFloppy ? 0x00 : 0x80 }

    /// The master boot record's partition table: four 16-byte entries at
    /// offset 0x1BE ("MBR partition table", e.g. the UEFI spec's "Legacy
    /// Master Boot Record", table "Legacy MBR Partition Record").
    static let partitionTableOffset = 0x1BE
    static let partitionEntrySize = 16
    static let signatureOffset = 0x1FE

    /// Checks `bytes`, read from `name` (named in every error).
    public init(bytes: [UInt8], name: String) throws(ToolError) {
        guard bytes.count <= Self.maximumBytes else {
            throw ToolError("\(name): \(bytes.count) bytes: larger than the \(Self.maximumBytes >> 20) MiB a BIOS guest's disk image may have (the payload carries it whole)")
        }
        let geometry: DiskGeometry
        do {
            geometry = try DiskGeometry(imageSize: bytes.count)
        } catch {
            throw ToolError("\(name): \(bytes.count) bytes: neither a standard floppy size (160K, 180K, 320K, 360K, 720K, 1.2M, 1.44M, 2.88M) nor a hard disk (whole 512-byte sectors, more than \(DiskGeometry.largestFloppyBytes) bytes)")
        }
        let signature = (bytes[Self.signatureOffset], bytes[Self.signatureOffset + 1])
        guard signature == (0x55, 0xAA) else {
            throw ToolError("\(name): no boot signature: bytes 0x1fe-0x1ff of sector 0 are \(hex(signature.0)) \(hex(signature.1)), not 0x55 0xaa")
        }
        if !geometry.isFloppy {
            try Self.checkPartitionTable(bytes, totalSectors: geometry.totalSectors, name: name)
        }
        self.bytes = bytes
        self.geometry = geometry
    }

    /// Reads and checks the file at `url`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ToolError("\(url.path): cannot read the disk image (\(error.localizedDescription))")
        }
        try self.init(bytes: [UInt8](data), name: url.path)
    }

    /// Every entry's boot flag is 0x00 or 0x80, at most one is 0x80, and
    /// every used entry (type not 0) starts after sector 0 and ends inside
    /// the image: the BIOS's INT 13h serves the image and nothing beyond it.
    static func checkPartitionTable(_ bytes: [UInt8], totalSectors: UInt64, name: String) throws(ToolError) {
        var active: Int? = nil
        for index in 0..<4 {
            let offset = partitionTableOffset + index * partitionEntrySize
            let entry = "partition table entry \(index + 1) (offset \(hex(offset)))"
            let bootFlag = bytes[offset]
            guard bootFlag == 0x00 || bootFlag == 0x80 else {
                throw ToolError("\(name): \(entry): boot flag \(hex(bootFlag)), not 0x00 or 0x80")
            }
            if bootFlag == 0x80 {
                if let first = active {
                    throw ToolError("\(name): \(entry): marked active (0x80), and so is entry \(first + 1): at most one may be")
                }
                active = index
            }
            let type = bytes[offset + 4]
            guard type != 0 else { continue }
            let start = UInt64(littleEndian32(bytes, offset + 8))
            let count = UInt64(littleEndian32(bytes, offset + 12))
            guard start > 0, count > 0 else {
                throw ToolError("\(name): \(entry): type \(hex(type)) with first sector \(start) and \(count) sectors: a used partition starts after sector 0 and has sectors")
            }
            guard start + count <= totalSectors else {
                throw ToolError("\(name): \(entry): sectors \(start)-\(start + count - 1) run past the image's end (\(totalSectors) sectors)")
            }
        }
    }

    /// The payload entry: kind disk-image, flags = the BIOS drive number.
    public var blob: PayloadBuilder.Blob {
        PayloadBuilder.Blob(kind: .diskImage, flags: UInt32(driveNumber), bytes: bytes)
    }

    /// `floppy 80/2/18, drive 0x00` or `hard disk 130/16/63, drive 0x80`.
    public var summary: String {
        let kind = geometry.isFloppy ? "floppy" : "hard disk"
        return "\(kind) \(geometry.cylinders)/\(geometry.heads)/\(geometry.sectorsPerTrack) (C/H/S), drive \(hex(driveNumber))"
    }
}

/// `0x1be`, `0x55`: lower-case hex, as the error lines print offsets and bytes.
private func hex<T: BinaryInteger>(_ value: T) -> String {
    let digits = String(value, radix: 16)
    return "0x" + (digits.count == 1 ? "0" + digits : digits)
}

/// The little-endian u32 at `offset`.
private func littleEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
}

extension ImageBuilder {
    /// `--guest bios`: the disk image given with `--disk-image`, checked.
    func biosGuestBlobs() throws -> [PayloadBuilder.Blob] {
        guard let url = options.diskImage else {
            throw ToolError("--guest bios needs --disk-image PATH (a floppy or MBR hard-disk image)")
        }
        let image = try BIOSDiskImage(contentsOf: url)
        progress("bios guest: \(url.path), \(image.bytes.count) bytes, \(image.summary)")
        return [image.blob]
    }
}
