import BIOSServices
import Testing

@Suite struct INT13CHSTests {
    @Test(arguments: DiskGeometryTests.floppies)
    func readEveryFloppyFormat(_ format: (Int, UInt32, UInt32, UInt32)) throws {
        let (bytes, cylinders, heads, sectors) = (format.0, Int(format.1), Int(format.2), Int(format.3))
        let g = try DiskGeometry(imageSize: bytes)
        withDisk(size: bytes) { image in
            var service = makeService()
            var memory = FlatMemory()
            // The last two sectors of the disk: the last head of the last cylinder.
            var r = chsRegisters(function: 0x02, count: 2, cylinder: cylinders - 1, head: UInt8(heads - 1), sector: sectors - 1, drive: 0)
            service.handle(registers: &r, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(!r.carry)
            #expect(r.ah == 0)
            #expect(r.al == 2)
            let last = bytes / 512 - 1
            #expect(memoryHoldsSector(memory, at: 0x10000, lba: last - 1))
            #expect(memoryHoldsSector(memory, at: 0x10200, lba: last))
        }
    }

    @Test func readCrossesHeadAndCylinder() throws {
        let g = try DiskGeometry(imageSize: 1440 * 1024)
        withDisk(size: 1440 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            // Cylinder 2, head 1, sector 17: LBA 2*36 + 18 + 16 = 106; three sectors run into cylinder 3.
            var r = chsRegisters(function: 0x02, count: 3, cylinder: 2, head: 1, sector: 17, drive: 0, es: 0x2000, bx: 0x0010)
            service.handle(registers: &r, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(!r.carry && r.al == 3)
            for i in 0..<3 {
                #expect(memoryHoldsSector(memory, at: 0x20010 + 512 * i, lba: 106 + i))
            }
            #expect(memory.bytes[0x20010 + 512 * 3] == 0)
            #expect(memory.bytes[0x2000F] == 0)
        }
    }

    @Test func hardDiskCylinderHighBits() throws {
        // 1000 * 1008 sectors: 16 heads, 1000 cylinders; cylinder 600 needs CL bits 7-6.
        let size = 1000 * 1008 * 512
        let g = try DiskGeometry(imageSize: size)
        #expect(g.heads == 16)
        let target = (600 * 16 + 5) * 63 + 8
        withDisk(size: size, only: target..<target + 1) { image in
            var service = makeService()
            var memory = FlatMemory()
            var r = chsRegisters(function: 0x02, count: 1, cylinder: 600, head: 5, sector: 9, drive: 0x80)
            service.handle(registers: &r, drive: 0x80, image: image, geometry: g, memory: &memory)
            #expect(!r.carry && r.al == 1)
            #expect(memoryHoldsSector(memory, at: 0x10000, lba: target))
        }
    }

    @Test func writeChangesOnlyTheAddressedSectors() throws {
        let g = try DiskGeometry(imageSize: 720 * 1024)
        withDisk(size: 720 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            for i in 0..<1024 { memory.bytes[0x30000 + i] = UInt8(truncatingIfNeeded: i * 7 + 1) }
            // Cylinder 1, head 0, sector 9: LBA 18 + 8 = 26, and 27.
            var r = chsRegisters(function: 0x03, count: 2, cylinder: 1, head: 0, sector: 9, drive: 1, es: 0x3000)
            service.handle(registers: &r, drive: 1, image: image, geometry: g, memory: &memory)
            #expect(!r.carry && r.ah == 0 && r.al == 2)
            for i in 0..<1024 { #expect(image[26 * 512 + i] == UInt8(truncatingIfNeeded: i * 7 + 1)) }
            for i in 0..<512 {
                #expect(image[25 * 512 + i] == pattern(lba: 25, offset: i))
                #expect(image[28 * 512 + i] == pattern(lba: 28, offset: i))
            }
        }
    }

    @Test func verifyChecksWithoutTransfer() throws {
        let g = try DiskGeometry(imageSize: 1440 * 1024)
        withDisk(size: 1440 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            var r = chsRegisters(function: 0x04, count: 5, cylinder: 3, head: 1, sector: 1, drive: 0)
            service.handle(registers: &r, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(!r.carry && r.ah == 0 && r.al == 5)
            #expect(memory.isZero())
            var bad = chsRegisters(function: 0x04, count: 1, cylinder: 80, head: 0, sector: 1, drive: 0)
            service.handle(registers: &bad, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(bad.carry && bad.ah == 0x04)
        }
    }

    @Test func zeroSectorReadIsInvalid() throws {
        let g = try DiskGeometry(imageSize: 1440 * 1024)
        withDisk(size: 1440 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            var r = chsRegisters(function: 0x02, count: 0, cylinder: 0, head: 0, sector: 1, drive: 0)
            service.handle(registers: &r, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(r.carry && r.ah == 0x01)
            #expect(memory.isZero())
        }
    }

    // (cylinder, head, sector) outside 80/2/18.
    @Test(arguments: [(0, 0, 0), (0, 0, 19), (0, 2, 1), (80, 0, 1), (1023, 1, 1)])
    func chsOutOfRangeIsSectorNotFound(_ chs: (Int, Int, Int)) throws {
        let g = try DiskGeometry(imageSize: 1440 * 1024)
        withDisk(size: 1440 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            var r = chsRegisters(function: 0x02, count: 1, cylinder: chs.0, head: UInt8(chs.1), sector: chs.2, drive: 0)
            service.handle(registers: &r, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(r.carry && r.ah == 0x04 && r.al == 0)
            #expect(memory.isZero())
        }
    }

    @Test func readPastTheEndStopsAtTheEnd() throws {
        let g = try DiskGeometry(imageSize: 360 * 1024)
        withDisk(size: 360 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            // The last sector (39/1/9, LBA 719) and two that do not exist.
            var r = chsRegisters(function: 0x02, count: 3, cylinder: 39, head: 1, sector: 9, drive: 0)
            service.handle(registers: &r, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(r.carry && r.ah == 0x04 && r.al == 1)
            #expect(memoryHoldsSector(memory, at: 0x10000, lba: 719))
            #expect(memory.isZero(0x10200..<0x10600))
        }
    }

    @Test func lastStatusIsKeptPerDriveAndResetClearsIt() throws {
        let g = try DiskGeometry(imageSize: 1440 * 1024)
        withDisk(size: 1440 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            var bad = chsRegisters(function: 0x02, count: 1, cylinder: 90, head: 0, sector: 1, drive: 0)
            service.handle(registers: &bad, drive: 0, image: image, geometry: g, memory: &memory)
            var status = BIOSRegisters()
            status.ah = 0x01
            service.handle(registers: &status, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(status.carry && status.ah == 0x04)
            // Another drive is untouched.
            var other = BIOSRegisters()
            other.ah = 0x01
            service.handle(registers: &other, drive: 1, image: image, geometry: g, memory: &memory)
            #expect(!other.carry && other.ah == 0)
            // An invalid function records 01h.
            var invalid = BIOSRegisters()
            invalid.ah = 0x99
            service.handle(registers: &invalid, drive: 1, image: image, geometry: g, memory: &memory)
            #expect(invalid.carry && invalid.ah == 0x01)
            #expect(service.lastStatus(drive: 1) == 0x01)
            // Reset succeeds and clears drive 0's status.
            var reset = BIOSRegisters()
            reset.ah = 0x00
            service.handle(registers: &reset, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(!reset.carry && reset.ah == 0)
            status = BIOSRegisters()
            status.ah = 0x01
            service.handle(registers: &status, drive: 0, image: image, geometry: g, memory: &memory)
            #expect(!status.carry && status.ah == 0)
        }
    }

    @Test func floppyParameters() throws {
        let g = try DiskGeometry(imageSize: 1440 * 1024)
        var service = makeService()
        var memory = FlatMemory()
        var r = BIOSRegisters()
        r.ah = 0x08
        r.dl = 0
        service.handle(registers: &r, drive: 0, image: UnsafeMutableRawBufferPointer(start: nil, count: 0), geometry: g, memory: &memory)
        #expect(!r.carry && r.ah == 0 && r.al == 0)
        #expect(r.bl == 0x04)
        #expect(r.ch == 79 && r.cl == 18 && r.dh == 1 && r.dl == 2)
        #expect(r.es == 0xF000 && r.di == 0xEFC7)
    }

    @Test func hardDiskParametersCarryCylinderHighBits() throws {
        let g = try DiskGeometry(imageSize: 20_000_000 * 512)  // 1024/255/63
        var service = makeService()
        var memory = FlatMemory()
        var r = BIOSRegisters()
        r.ah = 0x08
        r.dl = 0x80
        r.es = 0x1234
        service.handle(registers: &r, drive: 0x80, image: UnsafeMutableRawBufferPointer(start: nil, count: 0), geometry: g, memory: &memory)
        #expect(!r.carry && r.ah == 0)
        // Maximum cylinder 1023 = 3FFh: CH FFh, CL bits 7-6 = 11b, sectors 63.
        #expect(r.ch == 0xFF && r.cl == 0xC0 | 63 && r.dh == 254 && r.dl == 1)
        #expect(r.es == 0x1234)
    }

    @Test func diskType() throws {
        var service = makeService()
        var memory = FlatMemory()
        let none = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        var floppy = BIOSRegisters()
        floppy.ah = 0x15
        service.handle(registers: &floppy, drive: 0, image: none, geometry: try DiskGeometry(imageSize: 1440 * 1024), memory: &memory)
        #expect(!floppy.carry && floppy.ah == 0x01)
        var disk = BIOSRegisters()
        disk.ah = 0x15
        let g = try DiskGeometry(imageSize: 1000 * 1008 * 512)  // 1000/16/63 = 1 008 000 sectors
        service.handle(registers: &disk, drive: 0x80, image: none, geometry: g, memory: &memory)
        #expect(!disk.carry && disk.ah == 0x03)
        #expect(UInt32(disk.cx) << 16 | UInt32(disk.dx) == 1_008_000)
    }
}
