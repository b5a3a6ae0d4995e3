import EPT
@testable import Loader
import Primitives
import Testing

/// A sparse little-endian memory: 8-byte words in a dictionary.
struct WordMemory: PhysicalMemory {
    var bytes: [UInt64: UInt8] = [:]
    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        (0..<MemoryLayout<T>.size).reduce(T.zero) { $0 | T(bytes[address + UInt64($1)] ?? 0) << ($1 * 8) }
    }
    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        for i in 0..<MemoryLayout<T>.size { bytes[address + UInt64(i)] = UInt8(truncatingIfNeeded: value >> (i * 8)) }
    }
}

/// Walks 4-level paging by hand (Intel SDM Vol. 3A, "Linear-Address
/// Translation with 4-Level Paging") and returns the physical address.
private func translate(_ linear: UInt64, cr3: UInt64, memory: WordMemory) -> UInt64? {
    let pml4e = memory.load(UInt64.self, at: cr3 + ((linear >> 39) & 511) * 8)
    guard pml4e & 1 != 0 else { return nil }
    let pdpte = memory.load(UInt64.self, at: (pml4e & 0x000F_FFFF_FFFF_F000) + ((linear >> 30) & 511) * 8)
    guard pdpte & 1 != 0, pdpte & 0x80 == 0 else { return nil }
    let pde = memory.load(UInt64.self, at: (pdpte & 0x000F_FFFF_FFFF_F000) + ((linear >> 21) & 511) * 8)
    guard pde & 1 != 0, pde & 0x80 != 0 else { return nil }
    return (pde & 0x000F_FFFF_FFE0_0000) | (linear & 0x1F_FFFF)
}

@Test func identityMapsFourGiBWithTwoMiBPages() {
    var memory = WordMemory()
    let tables = GuestPageTables(identityMapping: 4, at: 0x70000, in: &memory)
    #expect(tables.cr3 == 0x70000)
    #expect(tables.size == 0x6000)
    for address: UInt64 in [0, 0x1234, 0x10_0000, 0x1F_FFFF, 0x20_0000, 0x7FFF_FFFF, 0xFEE0_0000, 0xFFFF_FFFF] {
        #expect(translate(address, cr3: tables.cr3, memory: memory) == address)
    }
    #expect(translate(0x1_0000_0000, cr3: tables.cr3, memory: memory) == nil, "nothing above 4 GiB")
    #expect(translate(0x8000_0000_0000, cr3: tables.cr3, memory: memory) == nil)
    // Every entry is supervisor (U/S = 0), present and writable.
    #expect(memory.load(UInt64.self, at: 0x72000) == 0x83)
}
