@testable import SVMCore
import VMXCore

/// MSRs as a table. Reads are logged (a class, because `read` is
/// non-mutating); reading a number not in the table is logged as missing
/// (on hardware it would raise #GP) and returns 0.
struct FakeMSRs: MSRAccess {
    final class Log {
        var reads: [MSR] = []
        var missing: [MSR] = []
    }

    var values: [MSR: UInt64]
    var writes: [(MSR, UInt64)] = []
    let log = Log()

    init(_ values: [UInt32: UInt64]) {
        var table: [MSR: UInt64] = [:]
        for (number, value) in values { table[MSR(number)] = value }
        self.values = table
    }

    func read(_ msr: MSR) -> UInt64 {
        log.reads.append(msr)
        guard let value = values[msr] else {
            log.missing.append(msr)
            return 0
        }
        return value
    }

    mutating func write(_ msr: MSR, _ value: UInt64) {
        writes.append((msr, value))
        values[msr] = value
    }
}

/// CPUID as a table keyed by leaf (subleaf ignored); unknown leaves return zeros.
struct FakeCPUID: CPUIDAccess {
    var leaves: [UInt32: CPUIDResult]

    func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        leaves[leaf] ?? CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
    }

    /// A copy with some registers of some leaves replaced.
    func with(_ leaf: UInt32, eax: UInt32? = nil, ebx: UInt32? = nil, ecx: UInt32? = nil, edx: UInt32? = nil) -> FakeCPUID {
        var copy = self
        var result = leaves[leaf] ?? CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
        if let eax { result.eax = eax }
        if let ebx { result.ebx = ebx }
        if let ecx { result.ecx = ecx }
        if let edx { result.edx = edx }
        copy.leaves[leaf] = result
        return copy
    }
}

/// A zeroed 4 KiB VMCB in test memory, freed with the object.
final class TestVMCB {
    let memory = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
    var page: VMCBPage

    init() {
        page = VMCBPage(memory)
        page.zero()
    }

    deinit { memory.deallocate() }

    func byte(_ offset: Int) -> UInt8 { memory.load(fromByteOffset: offset, as: UInt8.self) }
    func u16(_ offset: Int) -> UInt16 { memory.load(fromByteOffset: offset, as: UInt16.self) }
    func u32(_ offset: Int) -> UInt32 { memory.load(fromByteOffset: offset, as: UInt32.self) }
    func u64(_ offset: Int) -> UInt64 { memory.load(fromByteOffset: offset, as: UInt64.self) }
}
