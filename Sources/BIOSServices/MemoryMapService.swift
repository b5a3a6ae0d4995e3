import EPT
import Primitives

/// The INT 15h memory-size services, answered from the guest's memory map
/// (the BIOS map with the hypervisor's memory and the BIOS-guest handler's
/// page reserved), so that no guest learns of RAM it cannot use.
///
/// Sources: ACPI 6.5, section 15.1 "INT 15H, E820H - Query System Address
/// Map"; Ralf Brown's Interrupt List, INT 15/AX=E801h and INT 15/AH=88h.
///
/// - E820 (EAX = E820h, EDX = 'SMAP', EBX = continuation, ECX = buffer
///   size >= 20, ES:DI = buffer): one map region per call, in address
///   order; EBX is the index of the next region, 0 after the last. 20
///   bytes are written, or 24 (the ACPI 3.0 extended attributes, bit 0
///   "enabled" set) when ECX >= 24. Returns EAX = 'SMAP', ECX = bytes
///   written, CF clear. A wrong signature, a buffer under 20 bytes or not
///   guest RAM, or a continuation past the end: CF set, AH = 86h
///   (unsupported), nothing written.
/// - E801: AX = CX = KiB of usable RAM contiguous from 1 MiB, up to
///   16 MiB (at most 3C00h); BX = DX = 64 KiB blocks contiguous from
///   16 MiB, below 4 GiB.
/// - 88h: AX = KiB contiguous from 1 MiB, at most FFFFh.
public enum MemoryMapService {
    /// 'SMAP' as EDX/EAX hold it.
    public static let signature: UInt32 = 0x534D_4150
    /// AH for a function the BIOS does not support (RBIL #00496).
    public static let unsupported: UInt8 = 0x86

    /// True if this service answers INT 15h with these registers (the
    /// handler chains every other INT 15h function to the BIOS).
    public static func serves(_ r: BIOSRegisters) -> Bool {
        r.ax == 0xE820 || r.ax == 0xE801 || r.ah == 0x88
    }

    /// Serves one INT 15h call that `serves` accepted, from `map` (read in
    /// place).
    public static func handle<Memory: BIOSMemory>(
        registers r: inout BIOSRegisters, map: UnsafePointer<PhysicalMemoryMap>, memory: inout Memory
    ) {
        if r.ax == 0xE820 {
            e820(&r, map: map, memory: &memory)
        } else if r.ax == 0xE801 {
            let low = contiguousUsable(map, from: 0x10_0000, limit: 0x100_0000)
            let high = contiguousUsable(map, from: 0x100_0000, limit: 0x1_0000_0000)
            r.ax = UInt16(low >> 10)
            r.cx = r.ax
            r.bx = UInt16(truncatingIfNeeded: min(high >> 16, 0xFFFF))
            r.dx = r.bx
            r.carry = false
        } else {
            let kib = contiguousUsable(map, from: 0x10_0000, limit: 0x1_0000_0000) >> 10
            r.ax = UInt16(truncatingIfNeeded: min(kib, 0xFFFF))
            r.carry = false
        }
    }

    static func e820<Memory: BIOSMemory>(
        _ r: inout BIOSRegisters, map: UnsafePointer<PhysicalMemoryMap>, memory: inout Memory
    ) {
        let index = Int(r.ebx)
        let size: UInt32 = r.ecx >= 24 ? 24 : 20
        let buffer = FarPointer(segment: r.es, offset: r.di).linear
        // The entry, read in place (the map is 3 KiB; this is the exit path).
        let found = PhysicalMemoryMap.withRegions(map) { regions in
            r.ebx < UInt32(regions.count) ? (regions[index], regions.count) : nil
        }
        guard r.edx == signature, r.ecx >= 20, let (region, count) = found,
            memory.isAccessible(at: buffer, count: UInt64(size))
        else {
            r.ah = unsupported
            r.carry = true
            return
        }
        memory.store(region.range.start, at: buffer)
        memory.store(region.range.length, at: buffer + 8)
        memory.store(region.type.rawValue, at: buffer + 16)
        if size == 24 { memory.store(UInt32(1), at: buffer + 20) }
        r.eax = signature
        r.ecx = size
        r.ebx = index + 1 < count ? UInt32(index + 1) : 0
        r.carry = false
    }

    /// Bytes of usable RAM contiguous from `start` (which must itself be
    /// usable, else 0), cut at `limit`. Adjacent usable regions are merged
    /// in the map, so this is one region.
    static func contiguousUsable(_ map: UnsafePointer<PhysicalMemoryMap>, from start: UInt64, limit: UInt64) -> UInt64 {
        PhysicalMemoryMap.withRegions(map) { regions in
            for region in regions where region.type == .usable && region.range.contains(start) {
                return min(region.range.end, limit) - start
            }
            return 0
        }
    }
}
