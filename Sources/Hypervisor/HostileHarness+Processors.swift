import Devices
import Primitives
import VMExit

/// The other CPUs in the hostile-guest harness. Under VT-x the suite's
/// guest starts its own CPUs (`HostileSuite.run`): each AP waits as its
/// vCPU for the guest's STARTUP, and the INIT/SIPI attacks start vCPUs,
/// never real CPUs. After every attack the harness probes each AP
/// (`Processors.probeAll`): parked, or a vCPU of this guest (its EPT),
/// answering an NMI or a kick by pxHV's own code on it; anything else is
/// `ESCAPED`. The verdict line says what each AP's vCPU did meanwhile: its
/// exits, hypercalls and NMI exits since the attack began. A hypercall
/// there is an exit of pxHV's exit loop on that CPU, so guest code ran on
/// it inside VMX non-root operation (outside VMX, VMCALL raises #UD).
extension HostileHarness {
    /// APs whose figures the verdict line gives (and host info lists).
    static let reportedProcessors = 16

    /// One AP's vCPU counters (zero without a vCPU).
    struct ProcessorCounts {
        var exits: UInt64 = 0
        var hypercalls: UInt64 = 0
        var nmis: UInt64 = 0

        init() {}

        init(_ ap: Processors.ApplicationProcessor) {
            exits = ap.vcpuExits() ?? 0
            hypercalls = ap.vcpuExits(.vmcall) ?? 0
            nmis = ap.vcpuExits(.exceptionOrNMI) ?? 0
        }
    }

    /// At hypercall 6: every reported AP's counters.
    mutating func noteProcessorsAtBegin() {
        for (index, ap) in Processors.started.prefix(Self.reportedProcessors).enumerated() {
            processorsAtBegin[index] = ProcessorCounts(ap)
        }
    }

    /// At hypercall 7: the figures of the APs' vCPUs since hypercall 6 (read
    /// before the probe, whose kick is an NMI exit too), then the probe.
    /// Returns how many APs failed it and the text for the verdict line.
    func judgeProcessors() -> (failed: Int, figures: ProcessorFigures) {
        var figures = ProcessorFigures()
        for (index, ap) in Processors.started.prefix(Self.reportedProcessors).enumerated() {
            let now = ProcessorCounts(ap), before = processorsAtBegin[index]
            figures.counts[index] = ProcessorCounts(
                exits: now.exits &- before.exits, hypercalls: now.hypercalls &- before.hypercalls,
                nmis: now.nmis &- before.nmis)
            figures.hasVCPU[index] = ap.vcpuExits() != nil
        }
        let probe = Processors.probeAll(guestRoot: info.eptPML4) { index, answer in
            if index < Self.reportedProcessors { figures.answers[index] = answer }
        }
        figures.count = min(probe.checked, Self.reportedProcessors)
        return (probe.failed, figures)
    }

    /// The APs' part of a verdict line.
    struct ProcessorFigures {
        var count = 0
        var answers = InlineArray<16, ProcessorAnswer>(repeating: .notContained)
        var counts = InlineArray<16, ProcessorCounts>(repeating: ProcessorCounts())
        var hasVCPU = InlineArray<16, Bool>(repeating: false)

        /// `; cpu <n> <answer>[: exits +e, hypercalls +h, NMIs +m]` per AP.
        func write() {
            for index in 0..<count {
                let ap = Processors.started[index]
                console.write("; cpu \(ap.cpuNumber) \(answers[index].name)")
                guard hasVCPU[index] else { continue }
                let c = counts[index]
                console.write(": exits +\(c.exits), hypercalls +\(c.hypercalls), NMIs +\(c.nmis)")
            }
        }
    }
}

extension HostileHarness.ProcessorCounts {
    init(exits: UInt64, hypercalls: UInt64, nmis: UInt64) {
        self.exits = exits
        self.hypercalls = hypercalls
        self.nmis = nmis
    }
}
