import Primitives

/// Where the EPT builder gets frames for its tables.
///
/// A protocol rather than a closure so the bare-metal program can pass its
/// `FrameAllocator` by `inout` (generic, no existential, no escaping
/// closure context to allocate).
public protocol PageSource {
    /// A 4 KiB-aligned physical frame that nothing else uses, or nil when
    /// exhausted. Its contents are undefined: the builder zeroes it.
    mutating func allocatePage() -> UInt64?
}

extension PhysicalMemory {
    /// Zeroes the 4 KiB frame at `address`.
    ///
    /// A new paging structure must be all zeros: a zero entry is "not
    /// present" (bits 2:0 clear), anything else is a stale translation.
    public mutating func zeroPage(at address: UInt64) {
        precondition(address.isAligned(to: Page.size), "frame not 4 KiB aligned")
        var offset: UInt64 = 0
        while offset < Page.size {
            store(UInt64(0), at: address + offset)
            offset += 8
        }
    }
}
