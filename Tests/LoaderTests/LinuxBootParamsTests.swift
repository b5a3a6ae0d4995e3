import EPT
import Testing
@testable import Loader

@Test func bootParamsCarryHeaderAndLoaderFields() throws {
    let image = Fixture.BzImage().bytes
    let map = try Fixture.bochsMap()
    let plan = try Fixture.plan(image, initrd: 0x20_0000, commandLine: 12, map: map)
    var memory = PagedMemory()
    memory.store(UInt64.max, at: 0x8_0000 + 0x100)  // stale bytes: must be zeroed
    image.withUnsafeBytes { LinuxBootParams.write(for: plan, image: $0, memoryMap: map, into: &memory) }

    let base: UInt64 = 0x8_0000
    typealias H = LinuxSetupHeader.Offset
    func u8(_ o: Int) -> UInt8 { memory.load(UInt8.self, at: base + UInt64(o)) }
    func u16(_ o: Int) -> UInt16 { memory.load(UInt16.self, at: base + UInt64(o)) }
    func u32(_ o: Int) -> UInt32 { memory.load(UInt32.self, at: base + UInt64(o)) }
    #expect(memory.load(UInt64.self, at: base + 0x100) == 0)
    // Copied header: 0x1F1 ..< 0x202 + 0x6A, nothing past it.
    #expect(u16(H.bootFlag) == 0xAA55 && u32(H.header) == 0x5372_6448 && u16(H.version) == 0x020F)
    #expect(u32(H.initSize) == 0x400_0000 && u32(H.cmdlineSize) == 2047)
    #expect(u8(Int(0x26C)) == 0)
    #expect(u8(LinuxBootParams.Offset.sentinel) == 0)
    // Loader-written fields.
    #expect(u8(H.typeOfLoader) == 0xFF)
    #expect(u8(H.loadFlags) == 0x81)
    #expect(u16(H.heapEndPtr) == 0xFE00)
    #expect(u16(H.vidMode) == 0xFFFF)
    #expect(u32(H.code32Start) == 0x140_0000)
    #expect(u32(H.kernelAlignment) == 0x20_0000)
    #expect(u32(H.cmdLinePtr) == 0x8_1000 && u32(LinuxBootParams.Offset.extCmdLinePtr) == 0)
    #expect(u32(H.ramdiskImage) == 0x1FDF_0000 && u32(H.ramdiskSize) == 0x20_0000)
    #expect(u32(LinuxBootParams.Offset.extRamdiskImage) == 0 && u32(LinuxBootParams.Offset.extRamdiskSize) == 0)
}

@Test func e820ShowsHypervisorRegionReservedInOrder() throws {
    let map = try Fixture.bochsMap()
    var memory = PagedMemory()
    LinuxBootParams.writeE820(map, at: 0x8_0000, into: &memory)
    let count = Int(memory.load(UInt8.self, at: 0x8_0000 + 0x1E8))
    var entries: [(UInt64, UInt64, UInt32)] = []
    for i in 0..<count {
        let entry = 0x8_0000 + 0x2D0 + UInt64(i * 20)
        entries.append((memory.load(UInt64.self, at: entry), memory.load(UInt64.self, at: entry + 8),
                        memory.load(UInt32.self, at: entry + 16)))
    }
    let expected: [(UInt64, UInt64, UInt32)] = [
        (0, 0x9_F000, 1), (0x9_F000, 0x1000, 2), (0xE_8000, 0x1_8000, 2),
        (0x10_0000, 0x10_0000, 1), (0x20_0000, 0x120_0000, 2), (0x140_0000, 0x1FFF_0000 - 0x140_0000, 1),
        (0x1FFF_0000, 0x1_0000, 3), (0xFFFC_0000, 0x4_0000, 2),
    ]
    #expect(count == expected.count)
    for (got, want) in zip(entries, expected) {
        #expect(got.0 == want.0 && got.1 == want.1 && got.2 == want.2, "\(got) != \(want)")
    }
    for (a, b) in zip(entries, entries.dropFirst()) { #expect(a.0 + a.1 <= b.0) }
}

@Test func loadCopiesKernelInitrdAndCommandLine() throws {
    let image = Fixture.BzImage().bytes
    let initrd = (0..<0x3000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
    let commandLine = Array("console=ttyS0 quiet".utf8)
    let map = try Fixture.bochsMap()
    let plan = try Fixture.plan(image, initrd: UInt64(initrd.count), commandLine: commandLine.count, map: map)
    var memory = PagedMemory()
    image.withUnsafeBytes { image in
        initrd.withUnsafeBytes { initrdBytes in
            commandLine.withUnsafeBytes { line in
                plan.load(image: image, initrd: initrdBytes, commandLine: line, memoryMap: map, into: &memory)
            }
        }
    }
    #expect(memory.bytes(at: plan.loadAddress, count: 0x2000) == Array(image[(5 * 512)...]))
    #expect(memory.bytes(at: try #require(plan.initrd).start, count: initrd.count) == initrd)
    #expect(memory.bytes(at: 0x8_1000, count: commandLine.count + 1) == commandLine + [0])
    #expect(memory.load(UInt32.self, at: 0x8_0000 + 0x228) == 0x8_1000)
}
