import Primitives

/// Translates a guest-linear address through the guest's own paging, as
/// the processor would for a supervisor instruction fetch, reading the
/// guest's tables only where `GuestMemory` allows (guest RAM, never the
/// hypervisor's). For backends that must fetch the instruction that
/// exited (AMD-V without NRIP save computes the next RIP from its bytes).
///
/// Modes: paging off (linear = physical); 32-bit paging (2 levels, 4 MiB
/// pages with CR4.PSE); PAE (3 levels); 4-level and, with CR4.LA57,
/// 5-level (long mode; Linux turns LA57 on where the CPU has it, as QEMU's
/// `-cpu max` does). AMD APM Vol. 2, "Page Translation and Protection"
/// (chapter 5 in rev. 3.42); Intel SDM Vol. 3A, "Paging".
public struct GuestPaging: Equatable, Sendable {
    public var cr0: UInt64
    public var cr3: UInt64
    public var cr4: UInt64
    public var efer: UInt64

    public init(cr0: UInt64, cr3: UInt64, cr4: UInt64, efer: UInt64) {
        self.cr0 = cr0
        self.cr3 = cr3
        self.cr4 = cr4
        self.efer = efer
    }

    static let present: UInt64 = 1
    static let pageSize: UInt64 = 1 << 7
    static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

    /// The guest-physical address of `linear`, nil when a table is not
    /// present, not readable guest RAM, or the mode is not supported.
    public func translate<Memory: GuestMemory>(_ linear: UInt64, memory: Memory) -> UInt64? {
        guard cr0 & (1 << 31) != 0 else { return linear & 0xFFFF_FFFF_FFFF_FFFF }
        let pae = cr4 & (1 << 5) != 0
        let longMode = efer & (1 << 10) != 0  // EFER.LMA
        if !pae {
            // 32-bit paging: 10 + 10 + 12 bits, 4-byte entries.
            let address = linear & 0xFFFF_FFFF
            guard let pde = read32(cr3 & 0xFFFF_F000 + (address >> 22) * 4, memory), pde & 1 != 0 else { return nil }
            if pde & Self.pageSize != 0 && cr4 & (1 << 4) != 0 {  // CR4.PSE: 4 MiB page
                let high = (pde >> 13) & 0xFF  // PDE bits 20:13 are physical bits 39:32
                return (high << 32) | (pde & 0xFFC0_0000) | (address & 0x3F_FFFF)
            }
            guard let pte = read32(pde & 0xFFFF_F000 + ((address >> 12) & 0x3FF) * 4, memory), pte & 1 != 0
            else { return nil }
            return (pte & 0xFFFF_F000) | (address & 0xFFF)
        }
        var table: UInt64
        var level: Int
        if longMode {
            table = cr3 & Self.addressMask
            level = cr4 & (1 << 12) != 0 ? 5 : 4  // CR4.LA57
        } else {
            // PAE: CR3 points at 4 PDPTEs (32-byte aligned).
            guard let pdpte = read64((cr3 & 0xFFFF_FFE0) + ((linear >> 30) & 3) * 8, memory), pdpte & 1 != 0
            else { return nil }
            table = pdpte & Self.addressMask
            level = 2
        }
        while true {
            let shift = UInt64(12 + 9 * (level - 1))
            guard let entry = read64(table + ((linear >> shift) & 0x1FF) * 8, memory), entry & Self.present != 0
            else { return nil }
            if level == 1 || (entry & Self.pageSize != 0 && level <= 3) {
                let offsetMask: UInt64 = (1 << shift) - 1
                return (entry & Self.addressMask & ~offsetMask) | (linear & offsetMask)
            }
            table = entry & Self.addressMask
            level -= 1
        }
    }

    /// Up to `buffer.count` bytes of the instruction stream at `linear`
    /// (a fetch may cross into the next page, which is translated on its
    /// own). Returns how many bytes were read: fewer when the next page is
    /// not mapped.
    public func fetch<Memory: GuestMemory>(
        _ linear: UInt64, into buffer: UnsafeMutableRawBufferPointer, memory: Memory
    ) -> Int {
        var done = 0
        while done < buffer.count {
            let address = linear &+ UInt64(done)
            let inPage = Int(0x1000 - (address & 0xFFF))
            let count = min(inPage, buffer.count - done)
            guard let physical = translate(address, memory: memory),
                memory.read(at: physical, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + count)]))
            else { break }
            done += count
        }
        return done
    }

    private func read64<Memory: GuestMemory>(_ address: UInt64, _ memory: Memory) -> UInt64? {
        var value: UInt64 = 0
        let ok = withUnsafeMutableBytes(of: &value) { memory.read(at: address, into: $0) }
        return ok ? UInt64(littleEndian: value) : nil
    }

    private func read32<Memory: GuestMemory>(_ address: UInt64, _ memory: Memory) -> UInt64? {
        var value: UInt32 = 0
        let ok = withUnsafeMutableBytes(of: &value) { memory.read(at: address, into: $0) }
        return ok ? UInt64(UInt32(littleEndian: value)) : nil
    }
}
