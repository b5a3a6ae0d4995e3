import EPT
import FuzzSupport
import Loader
import Primitives

/// The E820 map (Sources/EPT/E820.swift, PhysicalMemoryMap): the BIOS's
/// entries as stage 2 stored them, read the way the hypervisor reads them
/// (`BootInfo` at 0x1000, then `E820Table` in place, then
/// `PhysicalMemoryMap(e820:)`), then carved (`reserving`, `marking`) and
/// queried; the map's invariants are checked after each step.
///
/// Input: mode byte; bit 0 set: the rest is the BootInfo page itself
/// (header at 0x1000, entries from 0x1040); clear: an entry count byte
/// (0-255, so more than the 128 the map holds), the entries (24 bytes
/// each) follow. Then 16 bytes at the end: a range to reserve.
func fuzzE820(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.take(UInt8.self)
    let bootInfoAddress: UInt64 = 0x1000
    var memory = SparseMemory()
    let table: E820Table<SparseMemory>
    var carve = PhysicalRange(start: 0x20_0000, end: 0x80_0000)
    if size > 17 {
        let tail = UnsafeRawBufferPointer(start: data! + size - 16, count: 16)
        let start = tail.loadUnaligned(as: UInt64.self)
        let length = tail.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        carve = PhysicalRange(start: start, length: length)
    }
    if mode & 1 != 0 {
        memory.place(Array(input.takeRest()), at: bootInfoAddress)
        let info: BootInfo
        do throws(BootInfoError) {
            info = try BootInfo(loadingFrom: memory, at: bootInfoAddress)
        } catch {
            _ = error.message
            return 0
        }
        table = E820Table(memory: memory, address: info.e820Address, count: info.e820Count)
    } else {
        let count = Int(input.take(UInt8.self))
        memory.place(Array(input.takeRest()), at: bootInfoAddress)
        table = E820Table(memory: memory, address: bootInfoAddress, count: count)
    }
    let map: PhysicalMemoryMap
    do throws(MemoryMapError) {
        map = try PhysicalMemoryMap(e820: table)
    } catch {
        _ = error.message
        return 0
    }
    FuzzMaps.checkInvariants(map)
    // Every entry's start lies in a region of at least its restrictiveness
    // or, for usable RAM, possibly in a trimmed partial page.
    for entry in table where !entry.range.isEmpty && entry.type != .usable {
        fuzzCheck(map.type(at: entry.range.start) != nil, "entry \(entry) vanished from the map")
    }
    _ = map.usableBytes
    _ = map.highestUsableAddress
    _ = map.ranges(of: .usable)
    for type in [MemoryType.reserved, .acpiReclaimable, .usable] {
        do throws(MemoryMapError) {
            let carved = try map.marking(carve, as: type)
            FuzzMaps.checkInvariants(carved)
            if type != .usable {
                fuzzCheck(carved.contains(carve, type: type), "marked range \(carve) not \(type) in the result")
            }
        } catch {
            _ = error.message
        }
    }
    return 0
}
