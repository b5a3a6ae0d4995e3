import EPT
import Primitives
/// Exit counters: one per basic reason below `trackedReasonCount`, one for
/// the rest, and the total. A value type of 130 `UInt64`s held inline:
/// `record(_:)` is a bounds check and two adds, no allocation, no
/// reference counting.
public struct ExitStatistics: Sendable {
    /// Basic reasons 0..<128 get their own counter (the SDM defines up to 85).
    public static let trackedReasonCount = 128

    private var counters: InlineArray<128, UInt64>
    /// Every recorded exit.
    public private(set) var total: UInt64
    /// Exits whose basic reason is >= `trackedReasonCount`.
    public private(set) var untracked: UInt64

    public init() {
        counters = InlineArray(repeating: 0)
        total = 0
        untracked = 0
    }

    /// Counts one exit of `reason`.
    @inline(__always)
    public mutating func record(_ reason: ExitReason) {
        total &+= 1
        let index = Int(reason.rawValue)
        if index < Self.trackedReasonCount {
            counters[index] &+= 1
        } else {
            untracked &+= 1
        }
    }

    /// Counts one exit by its basic reason (entry failures included).
    @inline(__always)
    public mutating func record(_ raw: RawExitReason) {
        record(raw.basicReason)
    }

    /// Exits recorded for `reason` (for untracked numbers: 0; see `untracked`).
    /// Inlined: out of line, reading the counters would copy all 130 of them
    /// first (hypercall 3 on the exit path; DESIGN.md).
    @inline(__always)
    public subscript(reason: ExitReason) -> UInt64 {
        let index = Int(reason.rawValue)
        return index < Self.trackedReasonCount ? counters[index] : 0
    }

    /// `self[reason]` read in place (no copy of the counters).
    @inline(__always)
    public static func count(in statistics: UnsafePointer<Self>, _ reason: ExitReason) -> UInt64 {
        let index = Int(reason.rawValue)
        return index < trackedReasonCount ? statistics.pointee.counters[index] : 0
    }

    /// The grouping printed by `summaryLine()`.
    public struct Summary: Hashable, Sendable {
        public var total: UInt64
        /// CPUID (10).
        public var cpuid: UInt64
        /// RDMSR (31) + WRMSR (32).
        public var msr: UInt64
        /// I/O instruction (30).
        public var io: UInt64
        /// Control-register accesses (28).
        public var cr: UInt64
        /// EPT violation (48) + EPT misconfiguration (49).
        public var ept: UInt64
        /// VMCALL (18).
        public var vmcall: UInt64
        /// HLT (12).
        public var hlt: UInt64
        /// Everything else: total minus the groups above.
        public var other: UInt64
    }

    public var summary: Summary {
        let cpuid = self[.cpuid]
        let msr = self[.rdmsr] &+ self[.wrmsr]
        let io = self[.ioInstruction]
        let cr = self[.controlRegisterAccess]
        let ept = self[.eptViolation] &+ self[.eptMisconfiguration]
        let vmcall = self[.vmcall]
        let hlt = self[.hlt]
        let grouped = cpuid &+ msr &+ io &+ cr &+ ept &+ vmcall &+ hlt
        return Summary(total: total, cpuid: cpuid, msr: msr, io: io, cr: cr, ept: ept,
                       vmcall: vmcall, hlt: hlt, other: total &- grouped)
    }

    /// The interface line (the console adds `pxhv: `):
    /// `exits total=<n> cpuid=<n> msr=<n> io=<n> cr=<n> ept=<n> vmcall=<n> hlt=<n> other=<n>`
    /// (decimal counts).
    public var summaryLine: Message {
        let s = summary
        return "exits total=\(s.total) cpuid=\(s.cpuid) msr=\(s.msr) io=\(s.io) cr=\(s.cr) ept=\(s.ept) vmcall=\(s.vmcall) hlt=\(s.hlt) other=\(s.other)"
    }
}

extension ExitStatistics {
    /// Every basic exit reason seen, with its SDM name and count, e.g.
    /// `exits by reason: 10 CPUID=412, 30 I/O instruction=3`, written to
    /// `output` (no prefix, no newline: the line can outgrow a `Message`).
    public func writeReasonLine<Output: TextOutput>(to output: inout Output) {
        output.write("exits by reason:")
        var first = true
        for raw in 0..<Self.trackedReasonCount {
            let reason = ExitReason(rawValue: UInt16(raw))
            let count = self[reason]
            guard count > 0 else { continue }
            output.write(first ? " " : ", ")
            output.write("\(raw) ")
            output.write(reason.name)
            output.write("=\(count)")
            first = false
        }
        if untracked > 0 { output.write(", untracked=\(untracked)") }
    }
}
