import Primitives

/// Where the hypervisor lives in physical memory, and so what every guest
/// is denied: its image (with the payload it came in) and its page pool.
///
/// Everything the host touches after the first VM entry is in one of the
/// two: code, data, stacks, heap, GDT/IDT/TSS in the image's .bss; its page
/// tables, VMXON/VMCS regions, EPT tables and exit bitmaps in the pool. EPT
/// leaves both unmapped and the guest's memory map marks them reserved.
public struct HostMemoryPlan: Equatable, Sendable {
    /// [payload base, end of the image or the payload, whichever is later):
    /// the manifest, the hypervisor image (linker symbols give its end,
    /// .bss included) and the guest blobs it was loaded with.
    public let image: PhysicalRange
    /// The frames every later allocation comes from.
    public let pool: PhysicalRange

    /// Below 4 GiB: application processors load CR3 from 32-bit code.
    public static let poolLimit: UInt64 = 0x1_0000_0000

    /// Carves a pool of `poolPages` frames, `poolAlignment`-aligned, from
    /// usable RAM outside `image` and below `poolLimit`.
    public init(map: PhysicalMemoryMap, image: PhysicalRange, poolPages: Int, poolAlignment: UInt64)
        throws(FrameAllocatorError)
    {
        var excluded = PhysicalRangeList()
        do throws(CapacityExceeded) {
            try excluded.append(image)
            try excluded.append(PhysicalRange(start: Self.poolLimit, end: UInt64.max & ~(Page.size - 1)))
        } catch {
            throw .tooManyRanges
        }
        var everything = try FrameAllocator(map: map, excluding: excluded)
        let start = try everything.allocate(pages: poolPages, alignment: poolAlignment)
        self.image = image
        pool = PhysicalRange(start: start, length: UInt64(poolPages) * Page.size)
    }

    /// The ranges no guest may see: the image and the pool.
    public var hidden: PhysicalRangeList {
        var list = PhysicalRangeList()
        try? list.append(image)
        try? list.append(pool)
        return list
    }

    /// True when all of `range` lies in the image or the pool.
    public func hides(_ range: PhysicalRange) -> Bool {
        image.contains(range) || pool.contains(range)
    }

    /// The allocator for everything after boot: the pool's frames only.
    public func poolAllocator(map: PhysicalMemoryMap) throws(FrameAllocatorError) -> FrameAllocator {
        try FrameAllocator(map: map, window: pool)
    }
}
