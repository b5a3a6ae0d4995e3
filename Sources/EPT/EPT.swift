import Primitives

/// EPT: guest-physical memory (memory map, frame allocator, EPT tables).
///
/// What lives here, by concern:
/// - `PhysicalRange`, `BoundedArray`, `BitFieldRepresentable`: the vocabulary.
/// - `E820Entry`, `MemoryType`, `PhysicalMemoryMap`: the firmware's map,
///   sanitized, and carved by the hypervisor.
/// - `FrameAllocator`: 4 KiB frames from the map, never from excluded ranges.
/// - `EPTIdentityLayout`: what the guest sees (RAM write-back, the rest
///   uncacheable, the hypervisor's region not at all).
/// - `EPTEntry`, `EPTPointer`, `EPTBuilder`, `EPTWalker`, `EPTViolation`:
///   the second-level tables the guest runs under on VT-x.
/// - `NPTEntry`, `NestedCR3`, `NPTBuilder`, `NPTWalker`, `NPTMemoryTypes`,
///   `PageAttributeTable`: the same on AMD-V (nested paging, long-mode
///   entries), from the same layout.
/// - `PageTableEntry`, `PageTableBuilder`, `PageTableWalker`,
///   `PageTableLeaves`, `IsolationCheck`: written once over the entry
///   format, so both vendors' tables are built, walked and proved alike.
///
/// Nothing here touches hardware: physical memory is reached through
/// `PhysicalMemory`, and frames come from a `PageSource`, so the same code
/// runs under `swift test` with fakes and on bare metal. No type in the hot
/// paths allocates on the Swift heap: lists are `BoundedArray`s (inline,
/// fixed capacity).
///
/// SDM citations follow Intel SDM revision 84 (June 2024), APM citations
/// the AMD64 Architecture Programmer's Manual Vol. 2 rev. 3.42; both name
/// the section title, because section numbers move between revisions.
