@testable import VMXCore

/// MSRs as a table. Reads are logged (a class, because `read` is
/// non-mutating), reads of numbers not in the table too: on hardware they
/// would raise #GP.
struct FakeMSRs: MSRAccess {
    final class Log {
        var reads: [MSR] = []
        var missing: [MSR] = []
    }

    var values: [MSR: UInt64]
    var writes: [MSRReading] = []
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
        writes.append(MSRReading(msr: msr, value: value))
        values[msr] = value
    }

    /// A copy with some values replaced.
    func with(_ changes: [UInt32: UInt64]) -> FakeMSRs {
        var copy = FakeMSRs([:])
        copy.values = values
        for (number, value) in changes { copy.values[MSR(number)] = value }
        return copy
    }

    /// A copy without some MSRs (reading them is then an error).
    func without(_ numbers: [UInt32]) -> FakeMSRs {
        var copy = FakeMSRs([:])
        copy.values = values
        for number in numbers { copy.values[MSR(number)] = nil }
        return copy
    }
}

/// CPUID as a table keyed by leaf (subleaf ignored); unknown leaves return zeros.
struct FakeCPUID: CPUIDAccess {
    var leaves: [UInt32: CPUIDResult]

    func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        leaves[leaf] ?? CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
    }
}

/// A processor like Bochs's but with CPUID.1:ECX.VMX = 0.
enum NoVMXProcessor {
    static var cpu: FakeCPUID {
        var leaf1 = BochsSkylakeX.cpuidLeaf1
        leaf1.ecx &= ~(1 << 5)
        return FakeCPUID(leaves: [1: leaf1])
    }
}

extension Collection where Element == MSRReading {
    var numbers: [UInt32] { map(\.msr.rawValue) }
}
