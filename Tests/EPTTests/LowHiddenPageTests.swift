@testable import EPT
import Primitives
import Testing

/// The hypervisor's AP trampoline page below 1 MiB (0x6F000, Processors.swift)
/// hidden beside its main region: unmapped in the EPT built from the list,
/// its neighbours still identity-mapped write-back.
@Test("a hidden page below 1 MiB beside the hypervisor region: unmapped, neighbours mapped")
func lowHiddenPageIsUnmapped() throws {
    let trampoline = PhysicalRange(start: 0x6_F000, length: Page.size)
    let map = try Fixtures.map(Fixtures.bochs512MiB).reserving(trampoline)
    let layout = try EPTIdentityLayout(map: map, hiding: PhysicalRangeList([Fixtures.hiddenRegion, trampoline]))
    let memory = FakePhysicalMemory()
    var pages = BumpPageSource(next: 0x8000_0000_0000)
    var builder = try EPTBuilder(memory: memory, supports1GiB: true, pages: &pages)
    try builder.map(layout, pages: &pages)
    let walker = EPTWalker(memory: memory, pointer: builder.pointer())
    for address in [trampoline.start, trampoline.start + 0x800, trampoline.end - 1] {
        #expect(walker.translate(address).mapping == nil, "GPA \(address)")
    }
    for address in [trampoline.start - 1, trampoline.end] {
        let mapping = try #require(walker.translate(address).mapping, "GPA \(address)")
        #expect(mapping.hostPhysicalAddress == address && mapping.memoryType == .writeBack)
    }
    #expect(layout.region(containing: trampoline.start) == nil)
    #expect(map.type(at: trampoline.start) == .reserved)
}
