import Testing
@testable import EPT

@Suite struct FrameAllocatorTests {
    /// The hypervisor's view at boot on Bochs: the payload (with the
    /// hypervisor image) at PAYLOAD_BASE, 6 MiB of it.
    static let payload = PhysicalRange(start: 0x20_0000, end: 0x80_0000)

    @Test func bochsMapExcludesLowMemoryAndThePayload() throws {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        var allocator = try FrameAllocator(map: map, excluding: PhysicalRangeList([Self.payload]))
        #expect(Array(allocator.managedRanges) == [
            PhysicalRange(start: 0x10_0000, end: 0x20_0000),
            PhysicalRange(start: 0x80_0000, end: 0x1FFF_0000),
        ])
        #expect(allocator.totalPages == 0x100 + (0x1FFF_0000 - 0x80_0000) / 0x1000)
        #expect(try allocator.allocate() == 0x10_0000)
        // 2 MiB alignment skips the rest of the first run and the payload.
        #expect(try allocator.allocate(pages: 512, alignment: 0x20_0000) == 0x80_0000)
        #expect(try allocator.allocate(pages: 2) == 0x10_1000)
        #expect(allocator.allocatedPages == 515)
        #expect(allocator.freePages == allocator.totalPages - 515)
    }

    @Test func poolWindowAfterTheImage() throws {
        // Carve a 32 MiB pool with the whole-map allocator, then allocate
        // everything else from an allocator restricted to it.
        let map = try Fixtures.map(Fixtures.qemu512MiB)
        var boot = try FrameAllocator(map: map, excluding: PhysicalRangeList([Self.payload]))
        let poolBase = try boot.allocate(pages: 0x2000, alignment: 0x20_0000)
        let pool = PhysicalRange(start: poolBase, length: 0x200_0000)
        #expect(pool == PhysicalRange(start: 0x80_0000, end: 0x280_0000))

        var allocator = try FrameAllocator(map: map, excluding: PhysicalRangeList([Self.payload]), window: pool)
        #expect(allocator.totalPages == 0x2000)
        var frames: [UInt64] = []
        while let frame = allocator.allocatePage() { frames.append(frame) }
        #expect(frames.count == 0x2000)
        #expect(frames.allSatisfy { pool.contains($0) })
        #expect(Set(frames).count == frames.count)
        #expect(throws: FrameAllocatorError.exhausted) { try allocator.allocate() }
    }

    @Test func exclusionsAreRoundedOutToWholePages() throws {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        let allocator = try FrameAllocator(
            map: map, excluding: PhysicalRangeList([PhysicalRange(start: 0x10_0800, end: 0x10_1001)]),
            window: PhysicalRange(start: 0, end: 0x20_0000))
        #expect(Array(allocator.managedRanges) == [PhysicalRange(start: 0x10_2000, end: 0x20_0000)])
    }

    @Test func freeCoalescesAndRejectsForeignFrames() throws {
        let map = try Fixtures.map(Fixtures.bochs512MiB)
        let window = PhysicalRange(start: 0x10_0000, end: 0x11_0000)
        var allocator = try FrameAllocator(map: map, window: window)
        let a = try allocator.allocate(pages: 4)
        let b = try allocator.allocate(pages: 4)
        let c = try allocator.allocate(pages: 8)
        #expect(allocator.freePages == 0)
        try allocator.free(b, pages: 4)
        try allocator.free(a, pages: 2)
        #expect(allocator.freeRanges.count == 2)
        try allocator.free(a + 0x2000, pages: 2)
        #expect(Array(allocator.freeRanges) == [PhysicalRange(start: a, end: c)])
        #expect(throws: FrameAllocatorError.notAllocated) { try allocator.free(a, pages: 1) }  // double free
        #expect(throws: FrameAllocatorError.notAllocated) { try allocator.free(0x9_0000, pages: 1) }  // below 1 MiB
        #expect(throws: FrameAllocatorError.notAllocated) { try allocator.free(c + 0x7000, pages: 2) }  // past the window
        #expect(throws: FrameAllocatorError.invalidRequest) { try allocator.free(c + 1, pages: 1) }
        try allocator.free(c, pages: 8)
        #expect(allocator.freeRanges == allocator.managedRanges)
        #expect(allocator.allocatedPages == 0)
    }

    @Test func invalidRequests() throws {
        var allocator = try FrameAllocator(map: try Fixtures.map(Fixtures.bochs512MiB))
        #expect(throws: FrameAllocatorError.invalidRequest) { try allocator.allocate(pages: 0) }
        #expect(throws: FrameAllocatorError.invalidRequest) { try allocator.allocate(pages: 1, alignment: 0x800) }
        #expect(throws: FrameAllocatorError.invalidRequest) { try allocator.allocate(pages: 1, alignment: 0x3000) }
        #expect(throws: FrameAllocatorError.exhausted) { try allocator.allocate(pages: 0x2_0000) }
        #expect(throws: FrameAllocatorError.exhausted) { try allocator.allocate(pages: 1, alignment: 0x1_0000_0000) }
    }

    @Test func fullFreeListReportsFragmentation() throws {
        // 128 runs of 2 pages separated by 1 excluded page each: every slot
        // is used, so an allocation that splits a run cannot be recorded.
        var entries: [E820Entry] = []
        for index in 0..<127 {
            entries.append(E820Entry(base: 0x100_0000 + UInt64(index) * 0x3000, length: 0x2000, type: .usable))
        }
        entries.append(E820Entry(base: 0x200_1000, length: 0x1_F000, type: .usable))
        var allocator = try FrameAllocator(map: try PhysicalMemoryMap(e820: entries))
        #expect(allocator.freeRanges.count == 128)
        // Three pages fit only in the last run; 8 KiB alignment puts them
        // one page in, which splits the run and needs a 129th slot.
        #expect(throws: FrameAllocatorError.tooFragmented) {
            try allocator.allocate(pages: 3, alignment: 0x2000)
        }
        #expect(try allocator.allocate(pages: 3) == 0x200_1000)  // no split needed
        #expect(try allocator.allocate(pages: 1) == 0x100_0000)  // the first run shrinks from below
    }
}
