import EPT
import Primitives
import VMExit

/// Guest RAM as the hypercall handlers may read it: identity-mapped,
/// usable RAM of the guest's map only, never the hypervisor's region.
///
/// Out of line: `map.contains` copies the whole map (3 KiB; Swift 6.3 copies
/// a struct holding a large `InlineArray` on entry to a non-mutating method,
/// DESIGN.md). Here the copy stays in these two frames, which only
/// hypercalls 1, 2, 5, 6 and 8 reach, instead of the dispatcher's.
struct GuestRAM: GuestMemory {
    let map: PhysicalMemoryMap
    let hidden: PhysicalRange

    @inline(never)
    func isReadable(at address: UInt64, count: UInt64) -> Bool {
        guard count > 0, address <= UInt64.max - count else { return false }
        let range = PhysicalRange(start: address, end: address + count)
        return !range.overlaps(hidden) && map.contains(range, type: .usable)
    }

    @inline(never)
    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard isReadable(at: address, count: UInt64(buffer.count)), let base = buffer.baseAddress else { return false }
        base.copyMemory(from: UnsafeRawPointer(bitPattern: UInt(address))!, byteCount: buffer.count)
        return true
    }
}

/// The console as the exit handlers see it: the hypervisor's own text (a
/// check's PASS/FAIL line) on every channel, the verdict channel included;
/// guest output (hypercall writes, port 0xE9) prefixed and escaped, on COM1
/// and the screen only (`Console.guestOutput`).
struct GuestConsole: HypervisorConsole {
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        console.write(bytes)
    }

    mutating func guestOutput(_ bytes: UnsafeRawBufferPointer) {
        console.guestOutput(bytes)
    }
}
