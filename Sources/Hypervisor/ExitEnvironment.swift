import EPT
import Primitives
import VMExit

/// Guest RAM as the hypercall handlers may read it: identity-mapped,
/// usable RAM of the guest's map only, never the hypervisor's region. The
/// exit path holds it by address (`GuestRAMReference`).
///
/// By address throughout: Swift 6.3 copies a struct holding a large
/// `InlineArray` on entry to a non-mutating method (DESIGN.md), so
/// `map.contains` would copy the whole map (3 KiB) at every check; the map
/// is read in place instead (`PhysicalMemoryMap.contains(_:_:type:)`).
/// Hypercalls 1, 2, 5, 6 and 8 check here, and under AMD-V without NRIPS
/// every instruction fetch for the next RIP (several checks per exit).
struct GuestRAM {
    let map: PhysicalMemoryMap
    let hidden: PhysicalRange

    /// Calls `body` with this RAM by address: the map is read in place by
    /// every check after this one copy.
    func withReference<Result>(_ body: (GuestRAMReference) -> Result) -> Result {
        withUnsafePointer(to: map) { body(GuestRAMReference(map: $0, hidden: hidden)) }
    }
}

/// Guest RAM for the dispatcher and the instruction fetch, by address
/// (`GuestRAM`'s map is 3 KiB: a pointer keeps it out of the exit path's
/// frames and out of every check).
struct GuestRAMReference: GuestMemory {
    let map: UnsafePointer<PhysicalMemoryMap>
    let hidden: PhysicalRange

    @inline(never)
    func isReadable(at address: UInt64, count: UInt64) -> Bool {
        guard count > 0, address <= UInt64.max - count else { return false }
        let range = PhysicalRange(start: address, end: address + count)
        return !range.overlaps(hidden) && PhysicalMemoryMap.contains(map, range, type: .usable)
    }

    @inline(never)
    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard isReadable(at: address, count: UInt64(buffer.count)), let base = buffer.baseAddress else { return false }
        base.copyMemory(from: UnsafeRawPointer(bitPattern: UInt(address))!, byteCount: buffer.count)
        return true
    }
}

/// Where a guest's instructions may be fetched from for decoding (AMD-V
/// without NRIPS): guest RAM, and the first MiB, where a BIOS guest runs
/// the machine's BIOS and option ROMs and pxHV's handler (reserved pages,
/// or a partial page the map leaves out) - never a hidden page there (the
/// AP trampoline, `lowHidden`). Hypercall buffers stay in guest RAM only.
struct GuestCodeMemory: GuestMemory {
    let ram: GuestRAMReference
    let lowHidden: PhysicalRange
    static let firstMiB: UInt64 = 0x10_0000

    func isReadable(at address: UInt64, count: UInt64) -> Bool {
        if ram.isReadable(at: address, count: count) { return true }
        guard count > 0, count <= Self.firstMiB, address <= Self.firstMiB - count else { return false }
        return !PhysicalRange(start: address, length: count).overlaps(lowHidden)
    }

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
