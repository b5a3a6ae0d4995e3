import BIOSServices
import Testing

@Suite struct INT13ExtensionsTests {
    /// 4 MiB: 8192 sectors, 8/16/63 by CHS (8064 sectors), the rest by LBA only.
    static let diskSize = 8192 * 512
    let packet = 0x7000  // DS:SI = 0700:0000

    func writePacket(_ memory: inout FlatMemory, size: UInt8, count: UInt16, segment: UInt16, offset: UInt16, lba: UInt64, flat: UInt64 = 0) {
        memory.store(size, at: UInt64(packet))
        memory.store(UInt8(0), at: UInt64(packet + 1))
        memory.store(count, at: UInt64(packet + 2))
        memory.store(offset, at: UInt64(packet + 4))
        memory.store(segment, at: UInt64(packet + 6))
        memory.store(lba, at: UInt64(packet + 8))
        memory.store(flat, at: UInt64(packet + 0x10))
    }

    func call(_ function: UInt8, _ service: inout INT13Service, _ memory: inout FlatMemory, _ image: UnsafeMutableRawBufferPointer, drive: UInt8 = 0x80) throws -> BIOSRegisters {
        var r = BIOSRegisters()
        r.ah = function
        r.dl = drive
        r.ds = 0x0700
        r.si = 0
        service.handle(registers: &r, drive: drive, image: image, geometry: try DiskGeometry(imageSize: image.count), memory: &memory)
        return r
    }

    @Test func checkExtensionsPresent() throws {
        var service = makeService()
        var memory = FlatMemory()
        let g = try DiskGeometry(imageSize: Self.diskSize)
        var r = BIOSRegisters()
        r.ah = 0x41
        r.bx = 0x55AA
        r.dl = 0x80
        service.handle(registers: &r, drive: 0x80, image: UnsafeMutableRawBufferPointer(start: nil, count: 0), geometry: g, memory: &memory)
        #expect(!r.carry && r.bx == 0xAA55 && r.ah == 0x21 && r.cx & 1 == 1)

        var wrong = BIOSRegisters()
        wrong.ah = 0x41
        wrong.bx = 0x1234
        service.handle(registers: &wrong, drive: 0x80, image: UnsafeMutableRawBufferPointer(start: nil, count: 0), geometry: g, memory: &memory)
        #expect(wrong.carry && wrong.ah == 0x01 && wrong.bx == 0x1234)

        var floppy = BIOSRegisters()
        floppy.ah = 0x41
        floppy.bx = 0x55AA
        service.handle(registers: &floppy, drive: 0, image: UnsafeMutableRawBufferPointer(start: nil, count: 0), geometry: try DiskGeometry(imageSize: 1440 * 1024), memory: &memory)
        #expect(floppy.carry && floppy.ah == 0x01 && floppy.bx == 0x55AA)
    }

    @Test func extendedReadReachesBeyondCHS() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: 0x10, count: 3, segment: 0x2000, offset: 0x0100, lba: 8100)
            let r = try call(0x42, &service, &memory, image)
            #expect(!r.carry && r.ah == 0)
            for i in 0..<3 { #expect(memoryHoldsSector(memory, at: 0x20100 + 512 * i, lba: 8100 + i)) }
            #expect(memory.load(UInt16.self, at: UInt64(packet + 2)) == 3)
        }
    }

    @Test func extendedReadToFlatAddress() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: 0x18, count: 1, segment: 0xFFFF, offset: 0xFFFF, lba: 5, flat: 0x10_0000)
            let r = try call(0x42, &service, &memory, image)
            #expect(!r.carry && r.ah == 0)
            #expect(memoryHoldsSector(memory, at: 0x10_0000, lba: 5))
            // The same with a 10h packet has no flat address: rejected.
            writePacket(&memory, size: 0x10, count: 1, segment: 0xFFFF, offset: 0xFFFF, lba: 6, flat: 0x10_0000)
            let short = try call(0x42, &service, &memory, image)
            #expect(short.carry && short.ah == 0x01)
            #expect(memoryHoldsSector(memory, at: 0x10_0000, lba: 5))
        }
    }

    @Test func extendedWrite() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            for i in 0..<512 { memory.bytes[0x40000 + i] = UInt8(truncatingIfNeeded: 255 - i) }
            writePacket(&memory, size: 0x10, count: 1, segment: 0x4000, offset: 0, lba: 8191)
            let r = try call(0x43, &service, &memory, image)
            #expect(!r.carry && r.ah == 0)
            for i in 0..<512 { #expect(image[8191 * 512 + i] == UInt8(truncatingIfNeeded: 255 - i)) }
            for i in 0..<512 { #expect(image[8190 * 512 + i] == pattern(lba: 8190, offset: i)) }
        }
    }

    @Test(arguments: [UInt8(0), 0x01, 0x0F])
    func packetTooSmallIsRejected(_ size: UInt8) throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: size, count: 1, segment: 0x2000, offset: 0, lba: 0)
            let r = try call(0x42, &service, &memory, image)
            #expect(r.carry && r.ah == 0x01)
            #expect(memory.isZero(0x20000..<0x20200))
            #expect(service.lastStatus(drive: 0x80) == 0x01)
        }
    }

    @Test func countAbove127IsRejected() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: 0x10, count: 0x80, segment: 0x2000, offset: 0, lba: 0)
            let r = try call(0x42, &service, &memory, image)
            #expect(r.carry && r.ah == 0x01)
            #expect(memory.isZero(0x20000..<0x20200))
        }
    }

    @Test func zeroCountMovesNothing() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: 0x10, count: 0, segment: 0x2000, offset: 0, lba: 0)
            let r = try call(0x42, &service, &memory, image)
            #expect(!r.carry && r.ah == 0)
            #expect(memory.isZero(0x20000..<0x20200))
        }
    }

    @Test func readPastTheEndRewritesTheCount() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: 0x10, count: 4, segment: 0x2000, offset: 0, lba: 8190)
            let r = try call(0x42, &service, &memory, image)
            #expect(r.carry && r.ah == 0x04)
            #expect(memory.load(UInt16.self, at: UInt64(packet + 2)) == 2)
            #expect(memoryHoldsSector(memory, at: 0x20000, lba: 8190))
            #expect(memoryHoldsSector(memory, at: 0x20200, lba: 8191))
            #expect(memory.isZero(0x20400..<0x20800))
            // Entirely past the end: nothing.
            writePacket(&memory, size: 0x10, count: 1, segment: 0x3000, offset: 0, lba: 9000)
            let beyond = try call(0x42, &service, &memory, image)
            #expect(beyond.carry && beyond.ah == 0x04)
            #expect(memory.load(UInt16.self, at: UInt64(packet + 2)) == 0)
        }
    }

    @Test func extendedVerifyAndSeek() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: 0x10, count: 2, segment: 0x2000, offset: 0, lba: 100)
            let verify = try call(0x44, &service, &memory, image)
            #expect(!verify.carry && verify.ah == 0)
            #expect(memory.isZero(0x20000..<0x20400))
            let seek = try call(0x47, &service, &memory, image)
            #expect(!seek.carry && seek.ah == 0)
            writePacket(&memory, size: 0x10, count: 1, segment: 0x2000, offset: 0, lba: 8192)
            let far = try call(0x47, &service, &memory, image)
            #expect(far.carry && far.ah == 0x04)
        }
    }

    @Test func extendedParametersHonourTheBufferSize() throws {
        try withDisk(size: Self.diskSize) { image in
            var service = makeService()
            var memory = FlatMemory()
            let base = UInt64(packet)
            memory.store(UInt16(0x1E), at: base)
            memory.store(UInt32(0xDEAD_BEEF), at: base + 0x1A)
            let r = try call(0x48, &service, &memory, image)
            #expect(!r.carry && r.ah == 0)
            #expect(memory.load(UInt16.self, at: base) == 0x1A)
            // 8*16*63 = 8064 < 8192 sectors: the CHS fields do not cover the disk (bit 1 clear).
            #expect(memory.load(UInt16.self, at: base + 2) & 0x2 == 0)
            #expect(memory.load(UInt32.self, at: base + 4) == 8)
            #expect(memory.load(UInt32.self, at: base + 8) == 16)
            #expect(memory.load(UInt32.self, at: base + 0x0C) == 63)
            #expect(memory.load(UInt64.self, at: base + 0x10) == 8192)
            #expect(memory.load(UInt16.self, at: base + 0x18) == 512)
            #expect(memory.load(UInt32.self, at: base + 0x1A) == 0xDEAD_BEEF)

            memory.store(UInt16(0x19), at: base)
            memory.store(UInt64(0), at: base + 0x10)
            let small = try call(0x48, &service, &memory, image)
            #expect(small.carry && small.ah == 0x01)
            #expect(memory.load(UInt16.self, at: base) == 0x19)
            #expect(memory.load(UInt64.self, at: base + 0x10) == 0)
        }
    }

    @Test func extendedParametersFlagCHSValid() throws {
        // Exactly 8/16/63: the CHS fields cover every sector.
        try withDisk(size: 8 * 16 * 63 * 512) { image in
            var service = makeService()
            var memory = FlatMemory()
            memory.store(UInt16(0x1A), at: UInt64(packet))
            let r = try call(0x48, &service, &memory, image)
            #expect(!r.carry)
            #expect(memory.load(UInt16.self, at: UInt64(packet + 2)) & 0x2 == 0x2)
        }
    }

    @Test(arguments: [UInt8(0x42), 0x43, 0x48])
    func extensionsOnAFloppyAreInvalid(_ function: UInt8) throws {
        try withDisk(size: 1440 * 1024) { image in
            var service = makeService()
            var memory = FlatMemory()
            writePacket(&memory, size: 0x10, count: 1, segment: 0x2000, offset: 0, lba: 0)
            let r = try call(function, &service, &memory, image, drive: 0)
            #expect(r.carry && r.ah == 0x01)
            #expect(memory.isZero(0x20000..<0x20200))
        }
    }
}
