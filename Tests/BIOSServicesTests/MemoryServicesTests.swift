import BIOSServices
import EPT
import Testing

/// INT 15h E820/E801/88h and the handler's call frame, on the map a BIOS
/// guest gets: a Bochs-like BIOS map (639 KiB base memory, 512 MiB) with
/// the handler's page and the hypervisor (2 MiB..20 MiB) reserved.
@Suite struct MemoryServicesTests {
    static func guestMap() throws -> PhysicalMemoryMap {
        let bios = try PhysicalMemoryMap(e820: [
            E820Entry(base: 0, length: 0x9_FC00, type: .usable),
            E820Entry(base: 0x9_FC00, length: 0x400, type: .reserved),
            E820Entry(base: 0xE_8000, length: 0x1_8000, type: .reserved),
            E820Entry(base: 0x10_0000, length: 0x1FF0_0000, type: .usable),
            E820Entry(base: 0xFFFC_0000, length: 0x4_0000, type: .reserved),
        ])
        return try bios.reserving(PhysicalRange(start: 0x9_F000, end: 0xA_0000))
            .reserving(PhysicalRange(start: 0x20_0000, end: 0x140_0000))
    }

    func call(_ setup: (inout BIOSRegisters) -> Void, map: PhysicalMemoryMap, memory: inout FlatMemory) -> BIOSRegisters {
        var r = BIOSRegisters()
        setup(&r)
        withUnsafePointer(to: map) { MemoryMapService.handle(registers: &r, map: $0, memory: &memory) }
        return r
    }

    @Test func e820WalksTheGuestMapWithoutHypervisorMemory() throws {
        let map = try Self.guestMap()
        var memory = FlatMemory()
        var continuation: UInt32 = 0
        var entries: [(UInt64, UInt64, UInt32)] = []
        repeat {
            let r = call({ r in
                r.eax = 0xE820; r.edx = MemoryMapService.signature; r.ebx = continuation
                r.ecx = 24; r.es = 0x2000; r.di = 0x10
            }, map: map, memory: &memory)
            #expect(!r.carry && r.eax == MemoryMapService.signature && r.ecx == 24)
            entries.append((memory.load(UInt64.self, at: 0x20010), memory.load(UInt64.self, at: 0x20018), memory.load(UInt32.self, at: 0x20020)))
            #expect(memory.load(UInt32.self, at: 0x20024) == 1)
            continuation = r.ebx
        } while continuation != 0 && entries.count < 20
        #expect(entries.count == map.count)
        #expect(entries.first! == (0, 0x9_F000, 1))
        // Nothing usable overlaps the hypervisor; what follows it is usable.
        for (base, length, type) in entries where type == 1 {
            #expect(base + length <= 0x20_0000 || base >= 0x140_0000, "usable \(base) + \(length)")
        }
        #expect(entries.contains { $0 == (0x20_0000, 0x120_0000, 2) })
        #expect(entries.contains { $0 == (0x140_0000, 0x2000_0000 - 0x140_0000, 1) })
    }

    @Test func e820With20ByteBufferWritesNoAttributes() throws {
        var memory = FlatMemory()
        memory.store(UInt32(0xDEAD_BEEF), at: 0x20024)
        let r = call({ r in r.eax = 0xE820; r.edx = MemoryMapService.signature; r.ecx = 20; r.es = 0x2000; r.di = 0x10 },
                     map: try Self.guestMap(), memory: &memory)
        #expect(!r.carry && r.ecx == 20 && r.ebx == 1)
        #expect(memory.load(UInt32.self, at: 0x20024) == 0xDEAD_BEEF)
    }

    @Test(arguments: [
        ("wrong signature", UInt32(0x1234_5678), UInt32(24), UInt32(0), UInt16(0x2000)),
        ("buffer under 20 bytes", MemoryMapService.signature, 19, 0, 0x2000),
        ("continuation past the end", MemoryMapService.signature, 24, 99, 0x2000),
        ("buffer not guest RAM", MemoryMapService.signature, 24, 0, 0xFFFF),
    ])
    func e820Errors(_ name: String, signature: UInt32, size: UInt32, continuation: UInt32, segment: UInt16) throws {
        var memory = FlatMemory()
        memory.hole = 0x10_0000..<0x11_0000
        let r = call({ r in r.eax = 0xE820; r.edx = signature; r.ecx = size; r.ebx = continuation; r.es = segment; r.di = 0x10 },
                     map: try Self.guestMap(), memory: &memory)
        #expect(r.carry && r.ah == MemoryMapService.unsupported, "\(name)")
        #expect(memory.isZero(), "\(name): nothing written")
    }

    @Test func e801And88CountOnlyMemoryContiguousFromOneMiB() throws {
        var memory = FlatMemory()
        let map = try Self.guestMap()
        let e801 = call({ $0.ax = 0xE801 }, map: map, memory: &memory)
        // 1 MiB..2 MiB, then the hypervisor: 1024 KiB; nothing contiguous from 16 MiB (hidden to 20 MiB).
        #expect(!e801.carry && e801.ax == 1024 && e801.cx == 1024 && e801.bx == 0 && e801.dx == 0)
        let ah88 = call({ $0.ah = 0x88 }, map: map, memory: &memory)
        #expect(!ah88.carry && ah88.ax == 1024)

        let whole = try PhysicalMemoryMap(e820: [E820Entry(base: 0, length: 0x9_F000, type: .usable),
                                                 E820Entry(base: 0x10_0000, length: 0x1FF0_0000, type: .usable)])
        let all801 = call({ $0.ax = 0xE801 }, map: whole, memory: &memory)
        #expect(all801.ax == 0x3C00 && all801.bx == UInt16((0x2000_0000 - 0x100_0000) >> 16))
        #expect(call({ $0.ah = 0x88 }, map: whole, memory: &memory).ax == 0xFFFF)
    }

    @Test func servesOnlyTheMemoryFunctions() {
        var r = BIOSRegisters()
        for (ax, served) in [(UInt16(0xE820), true), (0xE801, true), (0x8800, true), (0x88FF, true), (0xE881, false),
                             (0x2401, false), (0x8600, false), (0xC000, false), (0x8700, false)] {
            r.ax = ax
            #expect(MemoryMapService.serves(r) == served, "AX=\(String(ax, radix: 16))")
        }
    }

    /// The frame round trip through `BIOSGuestServices.serve`: a floppy
    /// read of sector 1 into ES:BX, the results and CF back in the frame,
    /// EBP/ESP/IP/CS untouched.
    @Test func serveReadsTheFrameAndWritesResultsBack() throws {
        try withDisk(size: 1_474_560) { image in
            var services = BIOSGuestServices(drive: 0, geometry: try DiskGeometry(imageSize: image.count), image: image, disk: makeService())
            var memory = FlatMemory()
            let frame: UInt64 = 0x7B00
            let registers = chsRegisters(function: 0x02, count: 2, cylinder: 0, head: 0, sector: 2, drive: 0, es: 0x0800, bx: 0)
            memory.store(registers.edi, at: frame)
            memory.store(UInt32(0x1111_1111), at: frame + 8)   // EBP
            memory.store(registers.ebx, at: frame + 16)
            memory.store(registers.edx, at: frame + 20)
            memory.store(registers.ecx, at: frame + 24)
            memory.store(registers.eax, at: frame + 28)
            memory.store(registers.es, at: frame + 32)
            memory.store(UInt16(0x13), at: frame + 36)
            memory.store(UInt16(0x7C55), at: frame + 38)   // IP
            memory.store(UInt16(0x0000), at: frame + 40)   // CS
            memory.store(UInt16(0x0203), at: frame + 42)   // FLAGS: IF, CF set by the caller
            let map = try Self.guestMap()
            let served = withUnsafePointer(to: map) { services.serve(frame: frame, map: $0, memory: &memory) }
            #expect(served)
            #expect(memoryHoldsSector(memory, at: 0x8000, lba: 1) && memoryHoldsSector(memory, at: 0x8200, lba: 2))
            #expect(memory.load(UInt16.self, at: frame + 28) == 0x0002, "AH=0 AL=2")
            #expect(memory.load(UInt16.self, at: frame + 42) == 0x0202, "CF cleared, IF kept")
            #expect(memory.load(UInt32.self, at: frame + 8) == 0x1111_1111)
            #expect(memory.load(UInt16.self, at: frame + 38) == 0x7C55)
            #expect(services.diskCalls == 1 && services.diskErrors == 0)

            // Another drive, another interrupt, a frame outside RAM: not served, nothing written.
            memory.store(UInt16(0x0080), at: frame + 20)
            #expect(!withUnsafePointer(to: map) { services.serve(frame: frame, map: $0, memory: &memory) })
            memory.store(UInt16(0x0000), at: frame + 20)
            memory.store(UInt16(0x10), at: frame + 36)
            #expect(!withUnsafePointer(to: map) { services.serve(frame: frame, map: $0, memory: &memory) })
            #expect(!withUnsafePointer(to: map) { services.serve(frame: 0x10_FFF0, map: $0, memory: &memory) })
        }
    }

    /// A read into memory that is not guest RAM fails with AH=01h and
    /// moves nothing; so does an EDD packet there, or a flat 64-bit buffer
    /// pointing into the hypervisor.
    @Test func buffersOutsideGuestRAMFail() throws {
        try withDisk(size: 8192 * 512) { image in
            let geometry = try DiskGeometry(imageSize: image.count)
            var service = makeService()
            var memory = FlatMemory()
            memory.hole = 0x9_0000..<0xA_0000
            var r = chsRegisters(function: 0x02, count: 4, cylinder: 0, head: 0, sector: 1, drive: 0x80, es: 0x8FF0, bx: 0)
            service.handle(registers: &r, drive: 0x80, image: image, geometry: geometry, memory: &memory)
            #expect(r.carry && r.ah == 0x01 && r.al == 0)
            #expect(memory.isZero())

            // EDD packet with a flat buffer at 2 MiB (past this memory).
            memory.store(UInt8(0x18), at: 0x7000)
            memory.store(UInt16(1), at: 0x7002)
            memory.store(UInt32(0xFFFF_FFFF), at: 0x7004)
            memory.store(UInt64(0), at: 0x7008)
            memory.store(UInt64(0x20_0000), at: 0x7010)
            var e = BIOSRegisters()
            e.ah = 0x42; e.dl = 0x80; e.ds = 0x0700; e.si = 0
            service.handle(registers: &e, drive: 0x80, image: image, geometry: geometry, memory: &memory)
            #expect(e.carry && e.ah == 0x01)
            #expect(memory.load(UInt16.self, at: 0x7002) == 0, "no blocks moved")

            var p = BIOSRegisters()
            p.ah = 0x48; p.dl = 0x80; p.ds = 0x9000; p.si = 0
            service.handle(registers: &p, drive: 0x80, image: image, geometry: geometry, memory: &memory)
            #expect(p.carry && p.ah == 0x01)
        }
    }
}

@Suite struct LowMemoryLayoutTests {
    @Test(arguments: [
        // Bochs/SeaBIOS: 639 KiB (EBDA at 9FC00h).
        (UInt16(639), UInt64(0x9_FC00), UInt64(0x9_F000), UInt64(0x9_E000), UInt16(632)),
        // No EBDA: 640 KiB.
        (640, 0xA_0000, 0x9_F000, 0x9_E000, 632),
        // A large EBDA (some servers): 620 KiB.
        (620, 0x9_B000, 0x9_A000, 0x9_9000, 612),
        // Nonsense from a broken BIOS: clamped to 512 KiB / 640 KiB.
        (0, 0x8_0000, 0x7_F000, 0x7_E000, 504),
        (0xFFFF, 0xA_0000, 0x9_F000, 0x9_E000, 632),
    ])
    func layout(_ kib: UInt16, _ top: UInt64, _ handler: UInt64, _ trampoline: UInt64, _ guestKiB: UInt16) {
        let layout = LowMemoryLayout(baseMemoryKiB: kib)
        #expect(layout.biosTop == top && layout.handlerPage == handler && layout.trampolinePage.start == trampoline)
        #expect(layout.guestBaseMemoryKiB == guestKiB)
        #expect(layout.biosTop - layout.handlerPage >= LowMemoryLayout.handlerCapacity)
        #expect(layout.reservedForBIOSGuest == PhysicalRange(start: trampoline, end: top))
    }
}
