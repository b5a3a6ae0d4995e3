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

/// Plans `image` with modules of the given sizes and strings against
/// `map` (the guest's map: `Fixture.bochsMap()` reserves the hypervisor's
/// [2 MiB, 20 MiB)), loads it into `memory`, returns the plan.
private func planAndLoad(
    _ bytes: [UInt8], commandLine: String, modules: [(bytes: [UInt8], string: String)],
    map: PhysicalMemoryMap, into memory: inout PagedMemory
) throws -> MultibootPlan {
    let image = try MultibootFixture.parse(bytes)
    let line = Array(commandLine.utf8)
    let strings = modules.map { Array($0.string.utf8) }
    // Pointers stay valid while the arrays live (this scope).
    let buffers = modules.map { UnsafeMutableRawBufferPointer.allocate(byteCount: max($0.bytes.count, 1), alignment: 1) }
    let stringBuffers = strings.map { UnsafeMutableRawBufferPointer.allocate(byteCount: max($0.count, 1), alignment: 1) }
    defer { (buffers + stringBuffers).forEach { $0.deallocate() } }
    var inputs: [MultibootModule] = []
    for (index, module) in modules.enumerated() {
        buffers[index].copyBytes(from: module.bytes)
        stringBuffers[index].copyBytes(from: strings[index])
        inputs.append(MultibootModule(
            bytes: UnsafeRawBufferPointer(rebasing: buffers[index][0..<module.bytes.count]),
            commandLine: UnsafeRawBufferPointer(rebasing: stringBuffers[index][0..<strings[index].count])))
    }
    return try line.withUnsafeBytes { line in
        let plan = try MultibootPlan(image: image, commandLine: line, modules: inputs, memoryMap: map,
                                     hypervisor: Fixture.hypervisorRegion)
        bytes.withUnsafeBytes {
            plan.load(imageBytes: $0, commandLine: line, modules: inputs, memoryMap: map, into: &memory)
        }
        return plan
    }
}

private func plan(_ image: MultibootImage, map: PhysicalMemoryMap) throws(MultibootError) -> MultibootPlan {
    try MultibootPlan(image: image, commandLine: UnsafeRawBufferPointer(start: nil, count: 0), modules: [],
                      memoryMap: map, hypervisor: Fixture.hypervisorRegion)
}

/// Where a kernel may load: at or above 1 MiB, below 4 GiB, outside the
/// hypervisor's memory, in usable RAM; each refusal names the segment.
@Test func planRejectsSegmentsWhereNoGuestMayLoad() throws {
    let map = try Fixture.bochsMap()
    let inHypervisor = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0x30_0000))
    #expect(throws: MultibootError.overlapsHypervisor(start: 0x30_0000, end: 0x30_1000, hypervisor: Fixture.hypervisorRegion)) {
        try plan(inHypervisor, map: map)
    }
    // A kernel linked at 1 MiB that runs past 2 MiB (the a.out kludge's
    // bss up to 0x200800).
    let crossing = try MultibootFixture.parse(MultibootFixture.aout(bssEnd: 0x20_0800))
    #expect(throws: MultibootError.overlapsHypervisor(start: 0x10_0000, end: 0x20_0800, hypervisor: Fixture.hypervisorRegion)) {
        try plan(crossing, map: map)
    }
    let low = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0x8_0000))
    #expect(throws: MultibootError.belowOneMiB(start: 0x8_0000, end: 0x8_1000)) { try plan(low, map: map) }
    let justBelow = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0xF_F800))
    #expect(throws: MultibootError.belowOneMiB(start: 0xF_F800, end: 0x10_0800)) { try plan(justBelow, map: map) }
    // Past the end of RAM (512 MiB) and in the MMIO hole: not usable.
    let pastRAM = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0x2000_0000))
    #expect(throws: MultibootError.notInUsableRAM(start: 0x2000_0000, end: 0x2000_1000)) { try plan(pastRAM, map: map) }
    let wrapping = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0xFFFF_F800))
    #expect(throws: MultibootError.above4GiB(start: 0xFFFF_F800, end: 0x1_0000_0800)) { try plan(wrapping, map: map) }
    // The same kernel above the hypervisor's memory loads.
    let above = try MultibootFixture.parse(MultibootFixture.elf(paddr: 0x180_0000))
    #expect(try plan(above, map: map).image.range == PhysicalRange(start: 0x180_0000, end: 0x180_1000))
    // Every refusal is one line naming the range.
    #expect(MultibootError.overlapsHypervisor(start: 0x30_0000, end: 0x30_1000, hypervisor: Fixture.hypervisorRegion).message.description
            == "multiboot: segment [0x300000, 0x301000) overlaps the hypervisor's memory [0x200000, 0x1400000): link the kernel below it or above it")
    #expect(MultibootError.belowOneMiB(start: 0x8_0000, end: 0x8_1000).message.description
            == "multiboot: segment [0x80000, 0x81000) loads below 1 MiB (BIOS and boot data): link the kernel at 0x100000 or above")
}

@Test func multibootInfoDescribesMemoryModulesAndCommandLine() throws {
    let map = try Fixture.bochsMap()
    let bytes = MultibootFixture.aout()  // [1 MiB, 1 MiB + 0x3000)
    let commandLine = "kernel arg=1"
    let first = (0..<0x1800).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let second = [UInt8](repeating: 0x5C, count: 0x234)
    var memory = PagedMemory()
    memory.store(UInt64.max, at: 0x10_1800)  // stale: must become bss zeros
    let plan = try planAndLoad(bytes, commandLine: commandLine,
                               modules: [(first, "initrd"), (second, "second module")], map: map, into: &memory)
    #expect(memory.bytes(at: 0x10_0000, count: 0x1000) == bytes)
    #expect(memory.load(UInt64.self, at: 0x10_1800) == 0)

    // Modules page-aligned right above the image's bss (in the free MiB
    // below the hypervisor), then the boot information above them.
    #expect(Array(plan.modules) == [PhysicalRange(start: 0x10_3000, length: 0x1800), PhysicalRange(start: 0x10_5000, length: 0x234)])
    #expect(plan.bootInformation == PhysicalRange(start: 0x10_6000, length: 0x1000))
    #expect(plan.entry.eax == 0x2BAD_B002 && plan.entry.ebx == 0x10_6000 && plan.entry.instructionPointer == 0x10_0080)

    let info = UInt64(plan.entry.ebx)
    func u32(_ offset: UInt64) -> UInt32 { memory.load(UInt32.self, at: info + offset) }
    #expect(u32(0) == 0x24D)  // mem, cmdline, mods, mmap, boot loader name
    #expect(u32(4) == 0x9F000 / 1024)  // mem_lower 636 KiB
    #expect(u32(8) == 1024)  // mem_upper: 1 MiB up to the hypervisor's memory
    #expect(memory.bytes(at: UInt64(u32(16)), count: commandLine.utf8.count + 1) == Array(commandLine.utf8) + [0])
    #expect(memory.bytes(at: UInt64(u32(64)), count: 5) == Array("pxHV".utf8) + [0])
    #expect(u32(20) == 2)
    let list = UInt64(u32(24))
    for (index, (module, string)) in [(first, "initrd"), (second, "second module")].enumerated() {
        let entry = list + UInt64(index * 16)
        let start = UInt64(memory.load(UInt32.self, at: entry)), end = UInt64(memory.load(UInt32.self, at: entry + 4))
        #expect(start & 0xFFF == 0 && end - start == UInt64(module.count))
        #expect(memory.bytes(at: start, count: module.count) == module)
        #expect(memory.bytes(at: UInt64(memory.load(UInt32.self, at: entry + 8)), count: string.utf8.count + 1) == Array(string.utf8) + [0])
    }
    // Memory map: {size 20, base, length, type} per region of the guest's
    // map, the hypervisor's memory reserved.
    #expect(u32(44) == UInt32(map.count * 24))
    let mmap = UInt64(u32(48))
    var hypervisorReserved = false
    for (index, region) in map.enumerated() {
        let entry = mmap + UInt64(index * 24)
        #expect(memory.load(UInt32.self, at: entry) == 20)
        #expect(memory.load(UInt64.self, at: entry + 4) == region.range.start)
        #expect(memory.load(UInt64.self, at: entry + 12) == region.range.length)
        #expect(memory.load(UInt32.self, at: entry + 20) == region.type.rawValue)
        if region.range.overlaps(Fixture.hypervisorRegion) {
            #expect(region.type != .usable)
            hypervisorReserved = hypervisorReserved || region.range.contains(Fixture.hypervisorRegion)
        }
    }
    #expect(hypervisorReserved)
    // Everything written: in usable RAM, above 1 MiB, apart.
    let written = [plan.image.range, plan.bootInformation] + Array(plan.modules)
    for (index, range) in written.enumerated() {
        #expect(map.contains(range, type: .usable) && range.start >= 0x10_0000, "\(range)")
        for other in written[(index + 1)...] { #expect(!range.overlaps(other), "\(range) \(other)") }
    }
}

/// Modules that do not fit in the MiB below the hypervisor go above its
/// memory, and so does the boot information after them.
@Test func modulesAndBootInformationSkipTheHypervisorsMemory() throws {
    let map = try Fixture.bochsMap()
    var memory = PagedMemory()
    let big = [UInt8](repeating: 0x11, count: 0xF_0000)
    let plan = try planAndLoad(MultibootFixture.aout(), commandLine: "", modules: [(big, "a"), (big, "b")],
                               map: map, into: &memory)
    #expect(plan.modules[0] == PhysicalRange(start: 0x10_3000, length: 0xF_0000))
    #expect(plan.modules[1] == PhysicalRange(start: Fixture.hypervisorRegion.end, length: 0xF_0000))
    #expect(plan.bootInformation.start == Fixture.hypervisorRegion.end + 0xF_0000)
    for range in Array(plan.modules) + [plan.bootInformation] {
        #expect(!range.overlaps(Fixture.hypervisorRegion))
    }
    // An empty command line is still a string (flags bit 2, a lone NUL).
    #expect(memory.load(UInt8.self, at: plan.commandLineAddress) == 0)
}

/// No room for the boot information: a line saying how much it needed.
@Test func bootInformationThatDoesNotFitIsRefused() throws {
    // RAM is [1 MiB, 1 MiB + 0x4000): the image takes 0x3000, the one page
    // left holds no boot information with a 4 KiB command line.
    let map = try PhysicalMemoryMap(e820: [E820Entry(base: 0x10_0000, length: 0x4000, type: .usable)])
    let image = try MultibootFixture.parse(MultibootFixture.aout())
    let line = [UInt8](repeating: 0x61, count: 0x1000)
    #expect(throws: MultibootError.bootInformationDoesNotFit(size: 0x2000)) {
        try line.withUnsafeBytes { line in
            _ = try MultibootPlan(image: image, commandLine: line, modules: [], memoryMap: map,
                                  hypervisor: Fixture.hypervisorRegion)
        }
    }
}

/// More modules than the list holds.
@Test func tooManyModulesAreRefused() throws {
    let image = try MultibootFixture.parse(MultibootFixture.aout())
    let empty = UnsafeRawBufferPointer(start: nil, count: 0)
    let modules = [MultibootModule](repeating: MultibootModule(bytes: empty, commandLine: empty), count: 49)
    #expect(throws: MultibootError.tooManyModules(count: 49, maximum: 48)) {
        _ = try MultibootPlan(image: image, commandLine: empty, modules: modules, memoryMap: try Fixture.bochsMap(),
                              hypervisor: Fixture.hypervisorRegion)
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
                                  modules: modules, memoryMap: map, hypervisor: Fixture.hypervisorRegion)
        }
    }
}
