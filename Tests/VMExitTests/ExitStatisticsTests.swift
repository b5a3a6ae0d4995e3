import EPT
import Foundation
import Primitives
import Testing
@testable import VMExit

@Suite("Exit statistics")
struct ExitStatisticsTests {
    @Test("a fresh set prints all zeros")
    func empty() {
        #expect(ExitStatistics().summaryLine
                == "exits total=0 cpuid=0 msr=0 io=0 cr=0 ept=0 vmcall=0 hlt=0 other=0")
    }

    @Test("grouping: msr = RDMSR + WRMSR, ept = violation + misconfiguration, other = the rest")
    func grouping() {
        var statistics = ExitStatistics()
        func record(_ reason: ExitReason, _ times: Int) {
            for _ in 0..<times { statistics.record(reason) }
        }
        record(.cpuid, 1234)
        record(.rdmsr, 40); record(.wrmsr, 2)
        record(.ioInstruction, 5000)
        record(.controlRegisterAccess, 17)
        record(.eptViolation, 3); record(.eptMisconfiguration, 1)
        record(.vmcall, 9)
        record(.hlt, 101)
        record(.xsetbv, 2); record(.externalInterrupt, 6); record(.rdtsc, 1)
        statistics.record(RawExitReason(rawValue: 0x8000_0021))  // entry failure: other
        statistics.record(ExitReason(rawValue: 300))              // untracked: other

        #expect(statistics.summary == ExitStatistics.Summary(
            total: 6418, cpuid: 1234, msr: 42, io: 5000, cr: 17, ept: 4, vmcall: 9, hlt: 101, other: 11))
        #expect(statistics[.rdmsr] == 40 && statistics[.entryFailureGuestState] == 1)
        #expect(statistics.untracked == 1 && statistics[ExitReason(rawValue: 300)] == 0)
        #expect(statistics.summaryLine
                == "exits total=6418 cpuid=1234 msr=42 io=5000 cr=17 ept=4 vmcall=9 hlt=101 other=11")
    }

    @Test("the counters are inline: a plain value of 130 UInt64s, no references")
    func layout() {
        #expect(MemoryLayout<ExitStatistics>.size == 130 * 8)
        #expect(_isPOD(ExitStatistics.self))
    }

    @Test("counts print in decimal up to UInt64.max")
    func decimalFormatting() {
        for value: UInt64 in [0, 7, 10, 4096, 1_000_000_007, .max] {
            #expect(Message("\(value)").description == String(value))
        }
    }

    /// No allocation in 1,000,000 `VMExit.decode` + `record(_:)` calls
    /// (the work of every VM exit), counted per thread (`Allocations`), so
    /// it runs with the other tests in plain `swift test`.
    @Test("decode and record(_:) do not allocate (malloc calls on this thread)", .enabled(if: Allocations.areCounted))
    func decodeAndRecordDoNotAllocate() throws {
        var statistics = ExitStatistics()
        statistics.record(.hlt)  // warm up
        let exits = [FixedExit(reason: 30, qualification: 0x0604_0001), FixedExit(reason: 10),
                     FixedExit(reason: 48, guestPhysical: 0xFEE0_0000), FixedExit(reason: 0x8000_0021),
                     FixedExit(reason: 500)]
        for index in 0..<exits.count { _ = VMExit.decode(exits[index]) }  // warm up every kind
        try Allocations.checkTheCounterCounts()
        var ioExits = 0
        let allocations = try Allocations.during {
            for index in 0..<1_000_000 {
                let exit = VMExit.decode(exits[index % exits.count])
                if case .io = exit { ioExits += 1 }
                statistics.record(exit.reason)
            }
        }
        print("pxhv-measure: allocations in 1000000 decode+record calls: \(allocations)")
        #expect(allocations == 0, "\(allocations) heap allocations in 1,000,000 decode + record calls")
        #expect(statistics.total == 1_000_001 && ioExits == 200_000)
    }
}

/// Exit information as plain values (the class fake in VMExitDecodeTests
/// logs its reads into an array, which allocates).
struct FixedExit: ExitInformationSource {
    var reason: UInt32
    var qualification: UInt64 = 0
    var guestPhysical: UInt64 = 0
    func exitReason() -> UInt32 { reason }
    func exitQualification() -> UInt64 { qualification }
    func guestPhysicalAddress() -> UInt64 { guestPhysical }
    func interruptionInformation() -> UInt32 { 0 }
    func interruptionErrorCode() -> UInt32 { 0 }
    func guestLinearAddress() -> UInt64 { 0 }
    func guestRIP() -> UInt64 { 0 }
}

