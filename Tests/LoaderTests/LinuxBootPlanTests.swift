import EPT
import Testing
@testable import Loader

@Test func loadsAtPreferredAddressWhenItIsFree() throws {
    let map = try Fixture.bochsMap(reservingHypervisor: false)
    let plan = try Fixture.plan(Fixture.BzImage().bytes, map: map)
    #expect(plan.loadAddress == 0x100_0000)
    #expect(plan.kernelRange == PhysicalRange(start: 0x100_0000, length: 0x400_0000))
    #expect(plan.entry == LinuxEntry(mode: .bits64, instructionPointer: 0x100_0200, bootParams: 0x8_0000))
}

@Test func relocatesAboveTheHypervisorRegion() throws {
    let plan = try Fixture.plan(Fixture.BzImage().bytes)
    // Preferred 16 MiB is inside [2 MiB, 20 MiB): next 2 MiB boundary after it.
    #expect(plan.loadAddress == 0x140_0000)
    #expect(plan.kernelAlignment == 0x20_0000)
    #expect(!plan.kernelRange.overlaps(Fixture.hypervisorRegion))
    // The initrd goes to the top of RAM below the ACPI tables, 4 KiB aligned.
    #expect(plan.initrd == PhysicalRange(start: 0x1FFF_0000 - 0x20_0000, length: 0x20_0000))
    #expect(plan.bootParamsAddress == 0x8_0000 && plan.commandLineAddress == 0x8_1000)
}

@Test func thirtyTwoBitEntryStartsAtLoadAddress() throws {
    var image = Fixture.BzImage()
    image.xloadflags = 0  // no 64-bit entry: 32-bit is still fine
    let plan = try Fixture.plan(image.bytes, mode: .bits32)
    #expect(plan.entry == LinuxEntry(mode: .bits32, instructionPointer: 0x140_0000, bootParams: 0x8_0000))
}

@Test func sixtyFourBitEntryNeedsXLFKernel64() {
    var image = Fixture.BzImage()
    image.xloadflags = 0x02
    #expect(throws: LinuxBootError.entryModeUnsupported(.bits64)) { try Fixture.plan(image.bytes) }
}

@Test func nonRelocatableKernelNeedsItsPreferredAddress() {
    var image = Fixture.BzImage()
    image.relocatable = 0
    #expect(throws: LinuxBootError.notRelocatable(prefAddress: 0x100_0000, size: 0x400_0000)) {
        try Fixture.plan(image.bytes)
    }
}

@Test func initSizeLargerThanMemoryDoesNotFit() {
    var image = Fixture.BzImage()
    image.initSize = 0x4000_0000  // 1 GiB in a 512 MiB guest
    #expect(throws: LinuxBootError.kernelDoesNotFit(size: 0x4000_0000, largestUsable: 0x1FFF_0000 - 0x140_0000)) {
        try Fixture.plan(image.bytes)
    }
}

@Test func fallsBackToMinAlignment() throws {
    // Usable RAM [20 MiB + 4 KiB, +63 MiB): every alignment from 2 MiB
    // down to 8 KiB starts too late for 63 MiB; 4 KiB fits exactly.
    var image = Fixture.BzImage()
    image.minAlignment = 12
    image.initSize = 63 << 20
    let map = try PhysicalMemoryMap(e820: [
        E820Entry(base: 0, length: 0x9_F000, type: .usable),
        E820Entry(base: 0x140_1000, length: 63 << 20, type: .usable),
    ])
    let plan = try Fixture.plan(image.bytes, initrd: 0, map: map)
    #expect(plan.loadAddress == 0x140_1000)
    #expect(plan.kernelAlignment == 0x1000)
    #expect(plan.initrd == nil)
}

@Test func commandLineLongerThanCmdlineSize() {
    #expect(throws: LinuxBootError.commandLineTooLong(length: 2048, maximum: 2047)) {
        try Fixture.plan(Fixture.BzImage().bytes, commandLine: 2048)
    }
    #expect((try? Fixture.plan(Fixture.BzImage().bytes, commandLine: 2047)) != nil)
}

@Test func initrdLargerThanMemory() {
    #expect(throws: LinuxBootError.initrdTooLarge(size: 0x2000_0000, largestFree: 0x1FFF_0000 - 0x540_0000)) {
        try Fixture.plan(Fixture.BzImage().bytes, initrd: 0x2000_0000)
    }
}

@Test func initrdMustEndBelowInitrdAddrMax() throws {
    var image = Fixture.BzImage()
    image.initrdAddrMax = 0x0FF_FFFF  // below 16 MiB only [1 MiB, 2 MiB) is free
    #expect(throws: LinuxBootError.initrdAboveLimit(size: 0x20_0000, limit: 0xFF_FFFF)) {
        try Fixture.plan(image.bytes, initrd: 0x20_0000)
    }
    // A smaller one fits, ending at the top of that piece.
    let plan = try Fixture.plan(image.bytes, initrd: 0x8_0000)
    #expect(plan.initrd == PhysicalRange(start: 0x18_0000, length: 0x8_0000))
}

@Test func initrdNeverOverlapsTheKernel() throws {
    // 96 MiB guest: kernel at [20 MiB, 84 MiB); a 10 MiB initrd fits only
    // above it, under the ACPI tables.
    let map = try Fixture.bochsMap(megabytes: 96)
    let plan = try Fixture.plan(Fixture.BzImage().bytes, initrd: 10 << 20, map: map)
    let initrd = try #require(plan.initrd)
    #expect(!initrd.overlaps(plan.kernelRange))
    #expect(initrd.start % 0x1000 == 0)
    #expect(initrd.end <= (96 << 20) - 0x1_0000)
}

@Test func bootDataAreaMustBeUsableRAM() throws {
    let map = try PhysicalMemoryMap(e820: [E820Entry(base: 0x10_0000, length: 0x1000_0000, type: .usable)])
    #expect(throws: LinuxBootError.lowMemoryUnavailable(start: 0x8_0000, end: 0x8_1000)) {
        try Fixture.plan(Fixture.BzImage().bytes, map: map)
    }
}
