import EPT
import Primitives
import VMExit

/// Guest RAM as the hypercall handlers may read it: identity-mapped,
/// usable RAM of the guest's map only, never the hypervisor's region. The
/// exit path holds it by address (`GuestRAMReference`).
///
/// Out of line: `map.contains` copies the whole map (3 KiB; Swift 6.3 copies
/// a struct holding a large `InlineArray` on entry to a non-mutating method,
/// DESIGN.md). Here the copy stays in these two frames, which only
/// hypercalls 1, 2, 5, 6 and 8 reach, instead of the dispatcher's; and they
/// take the value by address, so that their callers copy nothing either.
struct GuestRAM {
    let map: PhysicalMemoryMap
    let hidden: PhysicalRange

    @inline(never)
    static func isReadable(_ ram: UnsafePointer<GuestRAM>, at address: UInt64, count: UInt64) -> Bool {
        guard count > 0, address <= UInt64.max - count else { return false }
        let range = PhysicalRange(start: address, end: address + count)
        return !range.overlaps(ram.pointee.hidden) && ram.pointee.map.contains(range, type: .usable)
    }

    @inline(never)
    static func read(_ ram: UnsafePointer<GuestRAM>, at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard isReadable(ram, at: address, count: UInt64(buffer.count)), let base = buffer.baseAddress else { return false }
        base.copyMemory(from: UnsafeRawPointer(bitPattern: UInt(address))!, byteCount: buffer.count)
        return true
    }
}

/// Guest RAM for the dispatcher, by address (`GuestRAM`'s map is 3 KiB: a
/// pointer keeps it out of the exit path's frames).
struct GuestRAMReference: GuestMemory {
    let ram: UnsafePointer<GuestRAM>

    func isReadable(at address: UInt64, count: UInt64) -> Bool {
        GuestRAM.isReadable(ram, at: address, count: count)
    }

    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        GuestRAM.read(ram, at: address, into: buffer)
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
