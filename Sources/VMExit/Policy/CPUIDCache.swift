import VMXCore

/// A table of CPUID answers the CPUID policy looks leaves up in.
/// `CPUIDCache` is the real one; tests may supply their own.
public protocol CPUIDTable {
    /// What the processor answers for (`leaf`, `subleaf`), with the SDM's
    /// rules for leaves it does not have (see `CPUIDCache.lookup`).
    ///
    /// The table is read through a pointer: Swift 6.3 copies the whole
    /// `self` on entry to a non-mutating method that reads an element of a
    /// large `InlineArray` (DESIGN.md), which for `CPUIDCache` was 3 KiB per
    /// CPUID exit. The exit path passes the dispatcher's own table.
    static func lookup(in table: UnsafePointer<Self>, leaf: UInt32, subleaf: UInt32) -> CPUIDResult

    /// `lookup`'s answer when the table has it at hand (one index, no scan,
    /// nothing out of line), nil when `lookup` has more to do. The fast
    /// exit path answers from it.
    static func quickLookup(in table: UnsafePointer<Self>, leaf: UInt32, subleaf: UInt32) -> CPUIDResult?
}

extension CPUIDTable {
    /// No quick answers: every lookup goes through `lookup`.
    public static func quickLookup(in table: UnsafePointer<Self>, leaf: UInt32, subleaf: UInt32) -> CPUIDResult? {
        nil
    }
}

extension CPUIDTable {
    /// `lookup(in:leaf:subleaf:)` on this value (through a copy: for setup
    /// and tests, not the exit path).
    public func lookup(leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        withUnsafePointer(to: self) { Self.lookup(in: $0, leaf: leaf, subleaf: subleaf) }
    }
}

/// The boot processor's CPUID leaves, read once at boot so that a CPUID
/// exit is a table lookup: fixed storage (`capacity` entries of 24 bytes),
/// no allocation, and a direct index: `slots` gives each leaf's first entry
/// and entry count, and a leaf's subleaves are stored in ascending order
/// from 0, so subleaf n of a leaf is usually its entry n (a scan of that
/// leaf's few entries covers the gaps, e.g. leaf 0xD's state components).
///
/// Why a table and not the real CPUID instruction plus the policy's
/// fix-ups: see `CPUIDPolicy` (measured both).
///
/// Filled: basic leaves 0...min(max basic, `basicLeafLimit`) and extended
/// leaves 0x80000000...min(max extended, `extendedLeafLimit`); leaf 0 and
/// 0x80000000 report those capped maxima in EAX, so the guest never asks
/// for a leaf the cache dropped. Leaves with subleaves (`hasSubleaves`)
/// are stored per subleaf: 4 until the null cache type, 7/0x14/0x17/0x18/
/// 0x1D/0x20 up to the count in subleaf 0 EAX (at most 8), 0xB/0x1F until
/// the level type 0, 0xD for 0, 1 and every state component CPUID.(0xD,0)
/// EDX:EAX or CPUID.(0xD,1) EDX:ECX lists, 0xF/0x10/0x12 subleaves 0-3.
/// Other leaves ignore ECX (the SDM's rule for them). If `capacity` runs
/// out, `isTruncated` is set and later leaves read as zeros.
public struct CPUIDCache: CPUIDTable, Sendable {
    public static let capacity = 128
    public static let basicLeafLimit: UInt32 = 0x20
    public static let extendedLeafBase: UInt32 = 0x8000_0000
    public static let extendedLeafLimit: UInt32 = 0x8000_0020
    static let maximumSubleaves: UInt32 = 8

    struct Entry: Sendable {
        var leaf: UInt32
        var subleaf: UInt32
        var result: CPUIDResult
        static let empty = Entry(leaf: 0, subleaf: 0, result: CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0))
    }

    /// Where a leaf's entries are: `first` in `entries`, `count` of them.
    struct Slot: Sendable {
        var first: UInt8
        var count: UInt8
    }
    /// Slots: basic leaves 0...`basicLeafLimit`, then extended leaves
    /// 0x80000000...`extendedLeafLimit`.
    static let slotCount = 66
    static let firstExtendedSlot = 33

    private var entries: InlineArray<128, Entry>
    private var slots: InlineArray<66, Slot>
    /// Each slot's subleaf-0 answer (zeros for an empty slot): the answer
    /// for a leaf without subleaves, read by one index on the exit path.
    private var firstResults: InlineArray<66, CPUIDResult>
    /// Entries in use.
    public private(set) var count: Int = 0
    /// The highest basic leaf the cache answers (capped).
    public private(set) var maximumBasicLeaf: UInt32 = 0
    /// The highest extended leaf the cache answers (capped; 0 when none).
    public private(set) var maximumExtendedLeaf: UInt32 = 0
    /// True when some leaf did not fit in `capacity`.
    public private(set) var isTruncated = false

    /// An empty cache (every lookup answers zeros).
    public init() {
        entries = InlineArray(repeating: .empty)
        slots = InlineArray(repeating: Slot(first: 0, count: 0))
        firstResults = InlineArray(repeating: CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0))
    }

    /// Reads the processor's leaves through `cpu`.
    public init<C: CPUIDAccess>(reading cpu: C) {
        self.init()
        let leaf0 = cpu.cpuid(leaf: 0)
        maximumBasicLeaf = min(leaf0.eax, Self.basicLeafLimit)
        for leaf in 0...maximumBasicLeaf {
            fill(leaf: leaf, from: cpu)
        }
        let extended = cpu.cpuid(leaf: Self.extendedLeafBase)
        if extended.eax >= Self.extendedLeafBase && extended.eax <= Self.extendedLeafBase + 0xFFFF {
            maximumExtendedLeaf = min(extended.eax, Self.extendedLeafLimit)
            for leaf in Self.extendedLeafBase...maximumExtendedLeaf {
                fill(leaf: leaf, from: cpu)
            }
        }
    }

    /// Leaves whose answer depends on ECX (the cache stores them per subleaf).
    public static func hasSubleaves(_ leaf: UInt32) -> Bool {
        switch leaf {
        case 0x4, 0x7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1D, 0x1F, 0x20: true
        default: false
        }
    }

    private mutating func fill<C: CPUIDAccess>(leaf: UInt32, from cpu: C) {
        var first = cpu.cpuid(leaf: leaf, subleaf: 0)
        if leaf == 0 { first.eax = maximumBasicLeaf }
        if leaf == Self.extendedLeafBase { first.eax = maximumExtendedLeaf }
        store(leaf: leaf, subleaf: 0, first)
        guard Self.hasSubleaves(leaf) else { return }
        switch leaf {
        case 0x4:
            var subleaf: UInt32 = 1
            var previous = first
            while previous.eax & 0x1F != 0 && subleaf < Self.maximumSubleaves {
                previous = cpu.cpuid(leaf: leaf, subleaf: subleaf)
                if previous.eax & 0x1F == 0 { break }
                store(leaf: leaf, subleaf: subleaf, previous)
                subleaf += 1
            }
        case 0xB, 0x1F:
            var subleaf: UInt32 = 1
            var previous = first
            while (previous.ecx >> 8) & 0xFF != 0 && subleaf < Self.maximumSubleaves {
                previous = cpu.cpuid(leaf: leaf, subleaf: subleaf)
                if (previous.ecx >> 8) & 0xFF == 0 { break }
                store(leaf: leaf, subleaf: subleaf, previous)
                subleaf += 1
            }
        case 0xD:
            let second = cpu.cpuid(leaf: leaf, subleaf: 1)
            store(leaf: leaf, subleaf: 1, second)
            let components = (UInt64(first.edx) << 32 | UInt64(first.eax))
                | (UInt64(second.edx) << 32 | UInt64(second.ecx))
            var bit: UInt32 = 2
            while bit < 63 {
                if components & (1 << UInt64(bit)) != 0 {
                    store(leaf: leaf, subleaf: bit, cpu.cpuid(leaf: leaf, subleaf: bit))
                }
                bit += 1
            }
        case 0xF, 0x10, 0x12:
            for subleaf: UInt32 in 1...3 {
                store(leaf: leaf, subleaf: subleaf, cpu.cpuid(leaf: leaf, subleaf: subleaf))
            }
        default:  // 7, 0x14, 0x17, 0x18, 0x1D, 0x20: subleaf 0 EAX = highest subleaf
            let highest = min(first.eax, Self.maximumSubleaves - 1)
            if highest >= 1 {
                for subleaf in 1...highest {
                    store(leaf: leaf, subleaf: subleaf, cpu.cpuid(leaf: leaf, subleaf: subleaf))
                }
            }
        }
    }

    /// Takes the per-processor IDs from `cpu` (another logical processor
    /// than the one the cache was read on: an application processor's vCPU
    /// answers with its own): the initial APIC ID in leaf 1 EBX[31:24] and
    /// the x2APIC ID in EDX of every stored subleaf of 0xB and 0x1F. Every
    /// other answer is the same on all processors of the machine.
    ///
    /// Intel SDM Vol. 2A, CPUID, leaf 01H EBX and leaves 0BH/1FH EDX.
    public mutating func adoptProcessorIDs<C: CPUIDAccess>(of cpu: C) {
        if let slot = Self.slotIndex(of: 1), slots[slot].count != 0 {
            let apicID = cpu.cpuid(leaf: 1).ebx & 0xFF00_0000
            let index = Int(slots[slot].first)
            entries[index].result.ebx = entries[index].result.ebx & 0x00FF_FFFF | apicID
            firstResults[slot] = entries[index].result
        }
        adoptX2APICID(leaf: 0xB, of: cpu)
        adoptX2APICID(leaf: 0x1F, of: cpu)
    }

    private mutating func adoptX2APICID<C: CPUIDAccess>(leaf: UInt32, of cpu: C) {
        guard let slot = Self.slotIndex(of: leaf), slots[slot].count != 0 else { return }
        let x2APICID = cpu.cpuid(leaf: leaf).edx
        for index in Int(slots[slot].first)..<Int(slots[slot].first) + Int(slots[slot].count) {
            entries[index].result.edx = x2APICID
        }
        firstResults[slot].edx = x2APICID
    }

    /// The slot of a leaf in the cached ranges, nil for any other leaf.
    @inline(__always)
    static func slotIndex(of leaf: UInt32) -> Int? {
        if leaf <= basicLeafLimit { return Int(leaf) }
        if leaf >= extendedLeafBase && leaf <= extendedLeafLimit { return Int(leaf - extendedLeafBase) + firstExtendedSlot }
        return nil
    }

    /// Appends an entry; `fill` stores one leaf's subleaves together, in
    /// ascending order, which `lookup` relies on.
    private mutating func store(leaf: UInt32, subleaf: UInt32, _ result: CPUIDResult) {
        guard count < Self.capacity, let slot = Self.slotIndex(of: leaf) else { isTruncated = true; return }
        if slots[slot].count == 0 {
            slots[slot].first = UInt8(count)
            firstResults[slot] = result
        }
        slots[slot].count += 1
        entries[count] = Entry(leaf: leaf, subleaf: subleaf, result: result)
        count += 1
    }

    /// The stored entry, if any (no fallback rules).
    public func storedResult(leaf: UInt32, subleaf: UInt32) -> CPUIDResult? {
        withUnsafePointer(to: self) { Self.storedResult(in: $0, leaf: leaf, subleaf: subleaf) }
    }

    /// The stored entry of (`leaf`, `subleaf`): entry `subleaf` of the
    /// leaf's slot when it is that subleaf (the common case), else a scan of
    /// the leaf's entries.
    @inline(__always)
    static func storedResult(in table: UnsafePointer<Self>, leaf: UInt32, subleaf: UInt32) -> CPUIDResult? {
        guard let slotIndex = slotIndex(of: leaf) else { return nil }
        let slot = table.pointee.slots[slotIndex]
        let first = Int(slot.first), count = Int(slot.count)
        if subleaf < UInt32(count) {
            let entry = table.pointee.entries[first + Int(subleaf)]
            if entry.subleaf == subleaf { return entry.result }
        }
        var index = first
        while index < first + count {
            let entry = table.pointee.entries[index]
            if entry.subleaf == subleaf { return entry.result }
            index += 1
        }
        return nil
    }

    /// The processor's answer for (`leaf`, `subleaf`):
    ///
    /// - A leaf above the highest basic leaf (below 0x80000000), above the
    ///   highest extended leaf, or in no range the processor reports
    ///   (e.g. 0x40000000 on bare metal) answers as the highest basic leaf
    ///   does: Intel SDM Vol. 2A, CPUID, "If a value entered for CPUID.EAX is
    ///   higher than the maximum input value for basic or extended function
    ///   for that processor then the data for the highest basic information
    ///   leaf is returned" (the guest's ECX is kept as the subleaf).
    /// - A leaf without subleaves ignores `subleaf`.
    /// - A subleaf not stored answers zeros, except for 0xB/0x1F, which
    ///   answer ECX[7:0] = the subleaf and EDX = the x2APIC ID (level type 0,
    ///   the SDM's answer for an invalid level).
    ///
    /// First the common case, inlined into the exit path: a basic leaf the
    /// processor has, asked for subleaf 0 or without subleaves: one index
    /// into `firstResults`. Everything else: `lookupOther`, out of line.
    @inline(__always)
    public static func lookup(in table: UnsafePointer<Self>, leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        if let result = quickLookup(in: table, leaf: leaf, subleaf: subleaf) { return result }
        return lookupOther(in: table, leaf: leaf, subleaf: subleaf)
    }

    /// `lookup`'s common case: a basic leaf the processor has, asked for
    /// subleaf 0 or without subleaves (`firstResults`); nil otherwise.
    @inline(__always)
    public static func quickLookup(in table: UnsafePointer<Self>, leaf: UInt32, subleaf: UInt32) -> CPUIDResult? {
        guard leaf <= table.pointee.maximumBasicLeaf && (subleaf == 0 || !hasSubleaves(leaf)) else { return nil }
        return table.pointee.firstResults[Int(leaf)]
    }

    /// `lookup` for extended and out-of-range leaves and for subleaves.
    @inline(never)
    static func lookupOther(in table: UnsafePointer<Self>, leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        var leaf = leaf
        let maximumExtendedLeaf = table.pointee.maximumExtendedLeaf
        let isBasic = leaf <= table.pointee.maximumBasicLeaf
        let isExtended = maximumExtendedLeaf != 0 && leaf >= Self.extendedLeafBase && leaf <= maximumExtendedLeaf
        if !isBasic && !isExtended { leaf = table.pointee.maximumBasicLeaf }
        let subleaf = Self.hasSubleaves(leaf) ? subleaf : 0
        if let result = storedResult(in: table, leaf: leaf, subleaf: subleaf) { return result }
        if leaf == 0xB || leaf == 0x1F {
            let x2APICID = storedResult(in: table, leaf: leaf, subleaf: 0)?.edx ?? 0
            return CPUIDResult(eax: 0, ebx: 0, ecx: subleaf & 0xFF, edx: x2APICID)
        }
        return CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
    }
}
