import EPT
import Testing
@testable import Loader

/// Synthetic Multiboot images, built per the Multiboot Specification 0.6.96.
private enum MultibootFixture {
    static func put<T: FixedWidthInteger>(_ value: T, _ offset: Int, in bytes: inout [UInt8]) {
        for i in 0..<MemoryLayout<T>.size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (i * 8)) }
    }

    /// A flat binary linked at 1 MiB with the header 0x40 bytes in and the
    /// a.out kludge fields: 0x1000 bytes of text+data, 0x2000 of bss.
    static func aout(flags: UInt32 = 0x0001_0003, headerAt: Int = 0x40, loadEnd: UInt32 = 0x10_1000,
                     bssEnd: UInt32 = 0x10_3000, entry: UInt32 = 0x10_0080) -> [UInt8] {
        var image = (0..<0x1000).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ 1) }
        put(UInt32(0x1BAD_B002), headerAt, in: &image)
        put(flags, headerAt + 4, in: &image)
        put(0 &- (0x1BAD_B002 &+ flags), headerAt + 8, in: &image)
        put(UInt32(0x10_0000 + headerAt), headerAt + 12, in: &image)  // header_addr
        put(UInt32(0x10_0000), headerAt + 16, in: &image)  // load_addr
        put(loadEnd, headerAt + 20, in: &image)
        put(bssEnd, headerAt + 24, in: &image)
        put(entry, headerAt + 28, in: &image)
        return image
    }

    /// An ELF32 i386 executable: one PT_LOAD (file 0x1000..0x1800 to
    /// vaddr 0xC010_0000 / paddr 0x20_0000... here 0x200000 is the
    /// hypervisor's, so paddr 0x180_0000), memsz 0x1000; one PT_NOTE.
    static func elf(paddr: UInt32 = 0x180_0000, entry: UInt32 = 0xC010_0010, machine: UInt16 = 3) -> [UInt8] {
        var image = [UInt8](repeating: 0, count: 0x1800)
        image.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        image[4] = 1; image[5] = 1; image[6] = 1
        put(UInt16(2), 16, in: &image)  // ET_EXEC
        put(machine, 18, in: &image)
        put(entry, 0x18, in: &image)
        put(UInt32(0x34), 0x1C, in: &image)  // e_phoff
        put(UInt16(32), 0x2A, in: &image)
        put(UInt16(2), 0x2C, in: &image)
        // PT_NOTE first (ignored), then PT_LOAD.
        put(UInt32(4), 0x34, in: &image)
        let load = 0x34 + 32
        put(UInt32(1), load, in: &image)
        put(UInt32(0x1000), load + 4, in: &image)
        put(UInt32(0xC010_0000), load + 8, in: &image)
        put(paddr, load + 12, in: &image)
        put(UInt32(0x800), load + 16, in: &image)
        put(UInt32(0x1000), load + 20, in: &image)
        // Header without address fields, page-align modules + memory info.
        put(UInt32(0x1BAD_B002), 0x200, in: &image)
        put(UInt32(3), 0x204, in: &image)
        put(0 &- (0x1BAD_B002 &+ 3), 0x208, in: &image)
        for i in 0..<0x800 { image[0x1000 + i] = UInt8(truncatingIfNeeded: i &+ 5) }
        return image
    }

    static func parse(_ image: [UInt8]) throws(MultibootError) -> MultibootImage {
        var result: Result<MultibootImage, MultibootError>!
        image.withUnsafeBytes { bytes in
            do throws(MultibootError) { result = .success(try MultibootImage(parsing: bytes)) } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }
}

@Test func aoutKludgeImageLoadsAtItsAddresses() throws {
    let image = try MultibootFixture.parse(MultibootFixture.aout())
    #expect(image.headerOffset == 0x40)
    #expect(image.flags.contains(.addressFields))
    #expect(image.entryPoint == 0x10_0080)
    #expect(Array(image.segments) == [MultibootSegment(fileOffset: 0, fileSize: 0x1000, address: 0x10_0000, memorySize: 0x3000)])
    // load_end_addr 0: to the end of the file; bss_end_addr 0: no bss.
    let whole = try MultibootFixture.parse(MultibootFixture.aout(loadEnd: 0, bssEnd: 0))
    #expect(Array(whole.segments) == [MultibootSegment(fileOffset: 0, fileSize: 0x1000, address: 0x10_0000, memorySize: 0x1000)])
}

@Test func elfImageLoadsAtPhysicalAddresses() throws {
    let image = try MultibootFixture.parse(MultibootFixture.elf())
    #expect(image.headerOffset == 0x200)
    #expect(Array(image.segments) == [MultibootSegment(fileOffset: 0x1000, fileSize: 0x800, address: 0x180_0000, memorySize: 0x1000)])
    #expect(image.entryPoint == 0x180_0010, "virtual e_entry translated through the segment")
}

@Test func multibootHeaderErrors() {
    #expect(throws: MultibootError.noHeader) { try MultibootFixture.parse([UInt8](repeating: 0, count: 0x3000)) }
    var unaligned = [UInt8](repeating: 0, count: 0x100)
    MultibootFixture.put(UInt32(0x1BAD_B002), 0x42, in: &unaligned)
    #expect(throws: MultibootError.noHeader) { try MultibootFixture.parse(unaligned) }
    var late = [UInt8](repeating: 0, count: 0x3000)
    MultibootFixture.put(UInt32(0x1BAD_B002), 8192, in: &late)
    #expect(throws: MultibootError.noHeader) { try MultibootFixture.parse(late) }

    var badSum = MultibootFixture.aout()
    badSum[0x48] ^= 1
    #expect(throws: MultibootError.badChecksum(offset: 0x40, sum: 0xFFFF_FFFF)) { try MultibootFixture.parse(badSum) }
    #expect(throws: MultibootError.unsupportedRequirements(0x4)) {
        try MultibootFixture.parse(MultibootFixture.aout(flags: 0x0001_0007))
    }
    #expect(throws: MultibootError.badAddressFields(reason: .bssEndBeforeLoadEnd)) {
        try MultibootFixture.parse(MultibootFixture.aout(bssEnd: 0x10_0800))
    }
    #expect(throws: MultibootError.badAddressFields(reason: .loadEndPastFile)) {
        try MultibootFixture.parse(MultibootFixture.aout(loadEnd: 0x10_2000))
    }
    #expect(throws: MultibootError.entryOutsideImage(0x20_0000)) {
        try MultibootFixture.parse(MultibootFixture.aout(entry: 0x20_0000))
    }
    #expect(throws: MultibootError.notELF(.noMagic)) {
        try MultibootFixture.parse(MultibootFixture.aout(flags: 0x3))  // no bit 16, no ELF
    }
    #expect(throws: MultibootError.notELF(.notI386Executable)) {
        try MultibootFixture.parse(MultibootFixture.elf(machine: 0x3E))
    }
    #expect(throws: MultibootError.entryOutsideImage(0x1234)) {
        try MultibootFixture.parse(MultibootFixture.elf(entry: 0x1234))
    }
}

@Test func planRejectsImagesOutsideUsableRAM() throws {
    let map = try Fixture.bochsMap()
    let inHypervisor = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0x30_0000))
    #expect(throws: MultibootError.notInUsableRAM(start: 0x30_0000, end: 0x30_1000)) {
        try MultibootPlan(image: inHypervisor, commandLine: UnsafeRawBufferPointer(start: nil, count: 0), modules: [], memoryMap: map)
    }
    let inBootData = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0x8_0000))
    #expect(throws: MultibootError.overlapsBootData(start: 0x8_0000, end: 0x8_1000)) {
        try MultibootPlan(image: inBootData, commandLine: UnsafeRawBufferPointer(start: nil, count: 0), modules: [], memoryMap: map)
    }
}

@Test func multibootInfoDescribesMemoryModulesAndCommandLine() throws {
    let map = try Fixture.bochsMap()
    let bytes = MultibootFixture.aout()
    let image = try MultibootFixture.parse(bytes)
    let commandLine = Array("kernel arg=1".utf8)
    let moduleBytes = [UInt8](repeating: 0xAB, count: 0x1800)
    let moduleLine = Array("initrd".utf8)
    var memory = PagedMemory()
    memory.store(UInt64.max, at: 0x10_1800)  // stale: must become bss zeros
    let plan = try commandLine.withUnsafeBytes { line in
        try moduleBytes.withUnsafeBytes { module in
            try moduleLine.withUnsafeBytes { moduleLine in
                let modules = [MultibootModule(bytes: module, commandLine: moduleLine)]
                let plan = try MultibootPlan(image: image, commandLine: line, modules: modules, memoryMap: map)
                bytes.withUnsafeBytes {
                    plan.load(imageBytes: $0, commandLine: line, modules: modules, memoryMap: map, into: &memory)
                }
                return plan
            }
        }
    }
    #expect(plan.entry.eax == 0x2BAD_B002 && plan.entry.ebx == 0x8_0000 && plan.entry.instructionPointer == 0x10_0080)
    #expect(memory.bytes(at: 0x10_0000, count: 0x1000) == bytes)
    #expect(memory.load(UInt64.self, at: 0x10_1800) == 0)

    let info: UInt64 = 0x8_0000
    func u32(_ offset: UInt64) -> UInt32 { memory.load(UInt32.self, at: info + offset) }
    #expect(u32(0) == 0x24D)  // mem, cmdline, mods, mmap, boot loader name
    #expect(u32(4) == 0x9F000 / 1024)  // mem_lower 636 KiB
    #expect(u32(8) == 1024)  // mem_upper: 1 MiB up to the hypervisor region
    #expect(memory.bytes(at: UInt64(u32(16)), count: commandLine.count + 1) == commandLine + [0])
    #expect(memory.bytes(at: UInt64(u32(64)), count: 5) == Array("pxHV".utf8) + [0])
    // One module: page aligned, right above the image's bss (in the free
    // MiB below the hypervisor region).
    #expect(u32(20) == 1)
    let module = UInt64(u32(24))
    let start = UInt64(memory.load(UInt32.self, at: module)), end = UInt64(memory.load(UInt32.self, at: module + 4))
    #expect(start == 0x10_3000 && end - start == 0x1800)
    #expect(!PhysicalRange(start: start, end: end).overlaps(Fixture.hypervisorRegion))
    #expect(memory.bytes(at: start, count: 0x1800) == moduleBytes)
    #expect(memory.bytes(at: UInt64(memory.load(UInt32.self, at: module + 8)), count: 7) == moduleLine + [0])
    // Memory map: {size 20, base, length, type} per region of the map.
    #expect(u32(44) == UInt32(map.count * 24))
    let mmap = UInt64(u32(48))
    for (index, region) in map.enumerated() {
        let entry = mmap + UInt64(index * 24)
        #expect(memory.load(UInt32.self, at: entry) == 20)
        #expect(memory.load(UInt64.self, at: entry + 4) == region.range.start)
        #expect(memory.load(UInt64.self, at: entry + 12) == region.range.length)
        #expect(memory.load(UInt32.self, at: entry + 20) == region.type.rawValue)
    }
}

/// A trap in fuzz-multiboot (input Fuzz/Seeds/fuzz-multiboot/
/// regression-module-above-4g, written while reading what the target could
/// reach): with RAM above 4 GiB the only room for a module, the plan put it
/// there and `load` trapped converting mod_start to 32 bits. Modules must
/// end below 4 GiB; else the plan refuses them.
@Test func planRefusesModulesAbove4GiB() throws {
    let map = try PhysicalMemoryMap(e820: [
        E820Entry(base: 0, length: 0x10_4000, type: .usable),
        E820Entry(base: 0x1_0000_0000, length: 0x1_0000, type: .usable),
        E820Entry(base: 0xFFFF_F000, length: 0x1000, type: .usable),
    ])
    let image = try MultibootFixture.parse(MultibootFixture.aout())  // [1 MiB, 1 MiB + 0x3000)
    let module = [UInt8](repeating: 0xAB, count: 0x2000)
    #expect(throws: MultibootError.moduleDoesNotFit(index: 0, size: 0x2000)) {
        try module.withUnsafeBytes { bytes in
            let modules = [MultibootModule(bytes: bytes, commandLine: UnsafeRawBufferPointer(start: nil, count: 0))]
            _ = try MultibootPlan(image: image, commandLine: UnsafeRawBufferPointer(start: nil, count: 0),
                                  modules: modules, memoryMap: map)
        }
    }
}
