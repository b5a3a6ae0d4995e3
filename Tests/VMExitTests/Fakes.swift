import EPT
import VMXCore
@testable import VMExit

/// A CPU whose CPUID answers come from a table keyed by (leaf, subleaf);
/// leaves it lacks answer zeros (the cache never asks beyond the maxima).
struct TableCPU: CPUIDAccess {
    var leaves: [UInt64: CPUIDResult]
    func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        leaves[UInt64(leaf) << 32 | UInt64(subleaf)] ?? CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
    }
}

/// The Bochs 2.7 `corei7_skylake_x` leaf 1 (from its serial log, see
/// Tests/VMXCoreTests/BochsSkylakeX.swift) with the other leaves a
/// Skylake-X-like table: max basic 0x16, XCR0 components 0x2FF.
enum SkylakeX {
    static let leaf1 = CPUIDResult(eax: 0x0005_0654, ebx: 0x0001_0800, ecx: 0x77FA_F3BF, edx: 0xBFEB_FBFF)
    static let xcr0Supported: UInt64 = 0x2FF
    /// (component, size, offset) of CPUID.(0xD, i).
    static let xsaveGeometry: [(UInt32, UInt32, UInt32)] = [
        (2, 256, 576), (3, 64, 960), (4, 64, 1024), (5, 64, 1088), (6, 512, 1152), (7, 1024, 1664), (9, 8, 2688)]

    static var cpu: TableCPU {
        var t: [UInt64: CPUIDResult] = [:]
        func put(_ leaf: UInt32, _ subleaf: UInt32 = 0, _ eax: UInt32, _ ebx: UInt32, _ ecx: UInt32, _ edx: UInt32) {
            t[UInt64(leaf) << 32 | UInt64(subleaf)] = CPUIDResult(eax: eax, ebx: ebx, ecx: ecx, edx: edx)
        }
        // "GenuineIntel"
        put(0, 0, 0x16, 0x756E_6547, 0x6C65_746E, 0x4965_6E69)
        t[1 << 32] = leaf1
        put(2, 0, 0x0076_0301, 0, 0, 0x00C3_0000)
        for leaf: UInt32 in 3...0x16 where leaf != 4 && leaf != 7 && leaf != 0xB && leaf != 0xD {
            put(leaf, 0, CPUIDCache.hasSubleaves(leaf) ? 0 : 0x100 + leaf, 0, 0, 0)
        }
        // Deterministic cache parameters: 4 caches, then the null type.
        put(4, 0, 0x1C00_4121, 0x01C0_003F, 0x3F, 0)
        put(4, 1, 0x1C00_4122, 0x01C0_003F, 0x3F, 0)
        put(4, 2, 0x1C00_4143, 0x03C0_003F, 0x3FF, 0)
        put(4, 3, 0x1C03_C163, 0x0280_003F, 0x6FFF, 4)
        put(7, 0, 0, 0xD19F_4FBB, 0x0000_0008, 0)  // ECX bit 3 PKU; bit 4 OSPKE clear
        put(0xB, 0, 1, 1, 0x100, 0)       // SMT level
        put(0xB, 1, 4, 1, 0x201, 0)       // core level
        put(0xD, 0, UInt32(xcr0Supported & 0xFFFF_FFFF), 0x240, 0xA88, UInt32(xcr0Supported >> 32))
        put(0xD, 1, 0xF, 0x240, 0, 0)
        for (component, size, offset) in xsaveGeometry { put(0xD, component, size, offset, 0, 0) }
        put(0x8000_0000, 0, 0x8000_0008, 0, 0, 0)
        put(0x8000_0001, 0, 0, 0, 0x121, 0x2C10_0800)
        put(0x8000_0008, 0, 0x3028, 0, 0, 0)
        return TableCPU(leaves: t)
    }
}

/// Guest RAM [0, size) as a byte buffer, minus a hidden window; allocation-free
/// after init (the buffer is allocated once and freed by `deallocate`).
struct FakeGuestMemory: GuestMemory {
    let bytes: UnsafeMutableRawBufferPointer
    var hidden: PhysicalRange

    init(size: Int, hidden: PhysicalRange = PhysicalRange(start: 0x20_0000, end: 0x20_0000)) {
        bytes = .allocate(byteCount: size, alignment: 16)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        self.hidden = hidden
    }

    func deallocate() { bytes.deallocate() }

    func place(_ text: String, at address: Int) {
        for (index, byte) in text.utf8.enumerated() { bytes[address + index] = byte }
    }

    func isReadable(at address: UInt64, count: UInt64) -> Bool {
        let (end, overflow) = address.addingReportingOverflow(count)
        guard !overflow, end <= UInt64(bytes.count) else { return false }
        return count == 0 || !hidden.overlaps(PhysicalRange(start: address, end: end))
    }

    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard isReadable(at: address, count: UInt64(buffer.count)) else { return false }
        for index in 0..<buffer.count { buffer[index] = bytes[Int(address) + index] }
        return true
    }
}

/// Collects console bytes in an array (allocates: not for the allocation test).
/// Records the hypervisor's text and the guest's output stream apart.
struct FakeConsole: HypervisorConsole {
    var bytes: [UInt8] = []
    var guestBytes: [UInt8] = []
    mutating func write(_ chunk: UnsafeRawBufferPointer) { bytes.append(contentsOf: chunk) }
    mutating func guestOutput(_ chunk: UnsafeRawBufferPointer) { guestBytes.append(contentsOf: chunk) }
    var text: String { String(decoding: bytes, as: UTF8.self) }
    var guestText: String { String(decoding: guestBytes, as: UTF8.self) }
}

/// Counts console bytes only (allocation-free).
struct CountingConsole: HypervisorConsole {
    var count = 0
    var checksum = 0
    mutating func guestOutput(_ chunk: UnsafeRawBufferPointer) { write(chunk) }
    mutating func write(_ chunk: UnsafeRawBufferPointer) {
        count += chunk.count
        for byte in chunk { checksum &+= Int(byte) }
    }
}

struct FakeVCPU: GuestStateSource {
    var cr4: UInt64 = 0
    var cpl: UInt8 = 0
    /// IF set: a HLT idles.
    var rflags: UInt64 = 0x202
    func guestVisibleCR4() -> UInt64 { cr4 }
    func guestCPL() -> UInt8 { cpl }
    func guestRFLAGS() -> UInt64 { rflags }
}

/// The test guests' layout: RAM up to 2 MiB, hypervisor memory from 2 MiB.
enum TestMachine {
    static let hidden = PhysicalRange(start: 0x20_0000, end: 0x80_0000)
    static var cache: CPUIDCache { CPUIDCache(reading: SkylakeX.cpu) }
    static func dispatcher() -> Dispatcher<CPUIDCache> {
        Dispatcher(cpuid: cache, io: IOPolicy(pm1aControlPort: 0xB004, s5SleepType: 0),
                   nestedPageFaults: NestedPageFaultPolicy(hiddenMemory: hidden))
    }
}
