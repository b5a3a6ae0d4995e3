import Primitives

/// What a guest-physical address translates to through a leaf.
public struct EPTMapping: Hashable, Sendable {
    public var hostPhysicalAddress: UInt64
    public var permissions: EPTPermissions
    public var memoryType: EPTMemoryType
    public var ignoresPAT: Bool
    public var pageSize: EPTPageSize
}

/// The outcome of walking the tables for one guest-physical address.
public enum EPTTranslation: Hashable, Sendable {
    case mapped(EPTMapping)
    /// The entry at `level` has none of R/W/X: an access would be an EPT
    /// violation.
    case notPresent(level: EPTLevel)
    /// The entry at `level` is malformed: an access would be an EPT
    /// misconfiguration (VM exit 49).
    case misconfigured(level: EPTLevel, entry: EPTEntry)
    /// The address has bits set above bit 47, beyond a 4-level walk.
    case beyondAddressWidth

    /// The mapping, or nil for every other outcome.
    public var mapping: EPTMapping? {
        if case .mapped(let mapping) = self { return mapping }
        return nil
    }
}

/// A leaf found by `EPTWalker.forEachLeaf`.
public struct EPTLeaf: Hashable, Sendable {
    /// The first guest-physical address the leaf maps.
    public var guestPhysicalAddress: UInt64
    public var entry: EPTEntry
    public var pageSize: EPTPageSize
}

/// Reads EPT tables the way the processor does, through `PhysicalMemory`.
///
/// Tests use it to check what the builder wrote; the hypervisor can use it
/// to explain an EPT violation or misconfiguration (which entry, which
/// level) in its panic report.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84) and
/// "EPT Misconfigurations" (29.3.3.1 in rev. 84).
public struct EPTWalker<Memory: PhysicalMemory> {
    public var memory: Memory
    public let pml4Address: UInt64

    public init(memory: Memory, pml4Address: UInt64) {
        self.memory = memory
        self.pml4Address = pml4Address
    }

    public init(memory: Memory, pointer: EPTPointer) {
        self.init(memory: memory, pml4Address: pointer.pml4Address)
    }

    /// Walks the tables for `address`.
    public func translate(_ address: UInt64) -> EPTTranslation {
        guard address >> UInt64(EPTLevel.addressWidth) == 0 else { return .beyondAddressWidth }
        var table = pml4Address
        var level = EPTLevel.pml4
        while true {
            let entry = EPTEntry(rawValue: memory.load(UInt64.self, at: table + UInt64(level.index(of: address)) * 8))
            guard entry.isPresent else { return .notPresent(level: level) }
            guard !Self.isMisconfigured(entry, at: level) else { return .misconfigured(level: level, entry: entry) }
            if entry.isLeaf(at: level), let size = level.leafSize {
                let offset = address & (size.bytes - 1)
                return .mapped(
                    EPTMapping(
                        hostPhysicalAddress: entry.physicalAddress | offset, permissions: entry.permissions,
                        memoryType: entry.memoryType, ignoresPAT: entry.ignoresPAT, pageSize: size))
            }
            table = entry.physicalAddress
            guard let next = level.next else { fatalError("a page-table entry is always a leaf") }
            level = next
        }
    }

    /// Calls `body` with every present leaf, in increasing guest-physical
    /// order. Misconfigured entries are skipped.
    public func forEachLeaf(_ body: (EPTLeaf) -> Void) {
        visit(table: pml4Address, level: .pml4, base: 0, body)
    }

    private func visit(table: UInt64, level: EPTLevel, base: UInt64, _ body: (EPTLeaf) -> Void) {
        for index in 0..<EPTLevel.entriesPerTable {
            let entry = EPTEntry(rawValue: memory.load(UInt64.self, at: table + UInt64(index) * 8))
            guard entry.isPresent, !Self.isMisconfigured(entry, at: level) else { continue }
            let address = base + UInt64(index) * level.entrySpan
            if entry.isLeaf(at: level), let size = level.leafSize {
                body(EPTLeaf(guestPhysicalAddress: address, entry: entry, pageSize: size))
            } else if let next = level.next {
                visit(table: entry.physicalAddress, level: next, base: address, body)
            }
        }
    }

    /// The misconfiguration checks that do not depend on CPU capabilities:
    /// write without read, a reserved memory type in a leaf, reserved bits
    /// set in a table reference, address bits below the page size set in a
    /// large leaf. (Execute-only entries are allowed: whether the CPU
    /// supports them is IA32_VMX_EPT_VPID_CAP bit 0, which the walker does
    /// not know.)
    static func isMisconfigured(_ entry: EPTEntry, at level: EPTLevel) -> Bool {
        if !entry.permissions.isValid { return true }
        if entry.isLeaf(at: level) {
            guard entry.memoryType.isValid, let size = level.leafSize else { return true }
            return !entry.physicalAddress.isAligned(to: size.bytes)
        }
        let reserved = level == .pml4 ? EPTEntry.Field.reservedInPML4E : EPTEntry.Field.reservedInTableReference
        return entry[bits: reserved] != 0
    }
}
