import Testing
@testable import Devices

/// The boot CPU's check of an AP after each hostile attack: parked, or the
/// guest's vCPU, and pxHV's code on it answers (an NMI for a parked AP, a
/// kick for a vCPU). A fake CPU decides how the signal is answered.
@Suite struct ProcessorProbeTests {
    /// What the fake CPU does with the NMI or kick it gets.
    enum Behaviour {
        /// pxHV's NMI handler counts it (VMX root).
        case handler
        /// pxHV's exit loop counts an NMI exit (its vCPU's guest ran).
        case nmiExit
        /// The handler counts it, after `pauses` steps of the boot CPU's wait.
        case handlerAfter(pauses: Int)
        /// Nothing counts it: guest code runs on the CPU outside VMX.
        case nothing
        /// The handler counts it, and the CPU's phase becomes `standing`.
        case handlerThenStanding(ProcessorStanding)
    }

    final class FakeCPU {
        var standing: ProcessorStanding
        let behaviour: Behaviour
        var handledNMIs: UInt64 = 7
        var vcpuNMIExits: UInt64 = 40
        var nmisSent = 0
        var kicksSent = 0
        var pauses = 0
        var pendingAfter: Int?

        init(_ standing: ProcessorStanding, _ behaviour: Behaviour) {
            self.standing = standing
            self.behaviour = behaviour
        }

        func signal() {
            switch behaviour {
            case .handler: handledNMIs += 1
            case .nmiExit: vcpuNMIExits += 1
            case .handlerAfter(let pauses): pendingAfter = pauses
            case .nothing: break
            case .handlerThenStanding(let next):
                handledNMIs += 1
                standing = next
            }
        }
    }

    struct FakeProcessor: ProbedProcessor {
        let cpu: FakeCPU
        var standing: ProcessorStanding { cpu.standing }
        var handledNMIs: UInt64 { cpu.handledNMIs }
        var vcpuNMIExits: UInt64 { cpu.vcpuNMIExits }
        mutating func sendNMI() {
            cpu.nmisSent += 1
            cpu.signal()
        }
        mutating func kick() {
            cpu.kicksSent += 1
            cpu.signal()
        }
        func pause() {
            cpu.pauses += 1
            if let after = cpu.pendingAfter, cpu.pauses >= after {
                cpu.handledNMIs += 1
                cpu.pendingAfter = nil
            }
        }
    }

    static let guestRoot: UInt64 = 0x30_5000

    static func probe(_ cpu: FakeCPU, guestRoot: UInt64? = guestRoot, spins: Int = 100) -> ProcessorAnswer {
        var processor = FakeProcessor(cpu: cpu)
        return ProcessorProbe.probe(&processor, guestRoot: guestRoot, spins: spins)
    }

    @Test("a parked AP gets a plain NMI (never a kick) and answers in its handler")
    func parked() {
        let cpu = FakeCPU(.parked, .handler)
        #expect(Self.probe(cpu) == .parked)
        #expect(cpu.nmisSent == 1 && cpu.kicksSent == 0)
        #expect(Self.probe(cpu, guestRoot: nil) == .parked)  // no vCPUs at all: the same
    }

    @Test("a vCPU gets a kick (never a plain NMI): an NMI exit means it was in its guest, the handler VMX root")
    func vcpu() {
        let inGuest = FakeCPU(.vcpu(nestedRoot: Self.guestRoot), .nmiExit)
        #expect(Self.probe(inGuest) == .vcpuInGuest)
        #expect(inGuest.kicksSent == 1 && inGuest.nmisSent == 0)
        let waiting = FakeCPU(.vcpu(nestedRoot: Self.guestRoot), .handler)
        #expect(Self.probe(waiting) == .vcpuInRoot)
        #expect(ProcessorAnswer.vcpuInGuest.isContained && ProcessorAnswer.vcpuInRoot.isContained)
    }

    @Test("the answer may come late, within the wait")
    func lateAnswer() {
        let cpu = FakeCPU(.parked, .handlerAfter(pauses: 60))
        #expect(Self.probe(cpu, spins: 100) == .parked)
        #expect(cpu.pauses == 60)
        #expect(Self.probe(FakeCPU(.parked, .handlerAfter(pauses: 60)), spins: 50) == .silent)
    }

    @Test("the phase word alone proves nothing: a CPU that does not answer is not contained")
    func silent() {
        // A real INIT/SIPI would restart the CPU on guest code and leave
        // its phase word as it was: parked, or the vCPU it ran.
        let parked = FakeCPU(.parked, .nothing)
        #expect(Self.probe(parked) == .silent)
        #expect(parked.pauses == 100)
        #expect(Self.probe(FakeCPU(.vcpu(nestedRoot: Self.guestRoot), .nothing)) == .silent)
        #expect(!ProcessorAnswer.silent.isContained)
    }

    @Test("a vCPU of other nested tables (or of unknown ones) is not this guest's: no signal, not contained")
    func otherGuest() {
        let other = FakeCPU(.vcpu(nestedRoot: 0x40_0000), .nmiExit)
        #expect(Self.probe(other) == .otherGuest)
        #expect(other.kicksSent == 0 && other.nmisSent == 0)
        #expect(Self.probe(FakeCPU(.vcpu(nestedRoot: nil), .nmiExit)) == .otherGuest)
        #expect(Self.probe(FakeCPU(.vcpu(nestedRoot: Self.guestRoot), .nmiExit), guestRoot: nil) == .otherGuest)
        #expect(!ProcessorAnswer.otherGuest.isContained)
    }

    @Test("a phase word that changes during the probe, or says neither, is not contained")
    func movedOrElsewhere() {
        let stopped = FakeCPU(.vcpu(nestedRoot: Self.guestRoot), .handlerThenStanding(.parked))
        #expect(Self.probe(stopped) == .moved)
        #expect(Self.probe(FakeCPU(.parked, .handlerThenStanding(.elsewhere))) == .moved)
        let elsewhere = FakeCPU(.elsewhere, .handler)
        #expect(Self.probe(elsewhere) == .notContained)
        #expect(elsewhere.nmisSent == 0 && elsewhere.kicksSent == 0)
        #expect(!ProcessorAnswer.moved.isContained && !ProcessorAnswer.notContained.isContained)
    }
}
