import Foundation
import PXHVToolKit
import Testing

extension EndToEnd {
    static let smpImage: Result<BuiltImage, ToolError> = build(.smp, "smp")
}

/// Bochs with two CPUs: pxHV starts the second one, parks it in VMX root
/// (where INIT is blocked and SIPI ignored), and the test guests still run
/// on the boot CPU. The guests that start their own CPUs (Linux, the SMP
/// test guest in Guest/smp) get the parked APs as vCPUs, waiting for their
/// STARTUP.
@Suite(.serialized)
struct SMPBoots {
    static let parkedLine = #"^pxhv: cpu: 1 application processor parked in VMX root \(APIC IDs 1\)$"#
    static let verifiedLine = #"^pxhv: cpu: parked APs answered an NMI in VMX root: 1 of 1$"#
    static let attackedLine = #"^pxhv: cpu: INIT and STARTUP sent to the parked APs as a guest would: 1 of 1 still parked in VMX root$"#

    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func testGuestsPassWithTheSecondCPUParked() throws {
        var runner = BochsRunner(image: try EndToEnd.testGuestImage.get(), workDirectory: EndToEnd.work("bochs-smp-test-guests"))
        runner.cpuCount = 2
        runner.timeout = 600
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: test guests, 2 CPUs: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.serial.split(whereSeparator: \.isNewline) where line.hasPrefix("pxhv: cpu:") || line.contains("guest result") {
            print("pxhv-e2e: \(line)")
        }
        #expect(result.outcome == .poweredOff, "serial log:\n\(result.serial)")
        #expect(EndToEnd.line(matching: #"^pxhv: cpu: MADT lists 2 processors, 2 enabled; BSP APIC ID 0"#, in: result.serial) != nil)
        #expect(EndToEnd.line(matching: Self.parkedLine, in: result.serial) != nil, "serial log:\n\(result.serial)")
        #expect(EndToEnd.line(matching: Self.verifiedLine, in: result.serial) != nil, "serial log:\n\(result.serial)")
        #expect(EndToEnd.line(matching: Self.attackedLine, in: result.serial) != nil, "serial log:\n\(result.serial)")
        #expect(EndToEnd.line(matching: #"^pxhv: guest result: PASS ([0-9]+)/\1$"#, in: result.serial) != nil)
        #expect(!result.serial.contains("did not start"))
        #expect(!result.serial.contains("pxhv: error:"), "serial log:\n\(result.serial)")
    }

    /// Linux with two CPUs under VT-x: its MADT lists both, the parked AP
    /// becomes its vCPU, Linux's own INIT-STARTUP (trapped and delivered by
    /// pxHV) brings it up, userspace sees two CPUs, and its power-off stops
    /// the AP's vCPU (halted with interrupts off by Linux first) cleanly.
    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func linuxBringsUpBothCPUs() throws {
        var runner = BochsRunner(image: try EndToEnd.linuxImage.get(), workDirectory: EndToEnd.work("bochs-smp-linux"))
        runner.cpuCount = 2
        runner.timeout = 1500
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: linux, 2 CPUs: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.serial.split(whereSeparator: \.isNewline)
        where line.hasPrefix("pxhv: cpu") || line.hasPrefix("pxhv: exits") || line.contains("Brought up") || line.hasPrefix("pxhv-guest: cpus") {
            print("pxhv-e2e: \(line)")
        }
        #expect(result.outcome == .poweredOff, "serial log:\n\(result.serial.suffix(4000))")
        #expect(EndToEnd.line(matching: Self.parkedLine, in: result.serial) != nil)
        #expect(EndToEnd.line(matching: #"^pxhv: acpi: guest tables at 0x6e000: .* with 2 processors \(0 removed\)$"#, in: result.serial) != nil)
        #expect(EndToEnd.line(matching: #"^pxhv: cpu: vCPUs waiting for STARTUP in VMX root on APIC IDs 1 \(cpu 1\)$"#, in: result.verdict) != nil)
        #expect(result.serial.contains("smp: Brought up 1 node, 2 CPUs"), "serial log:\n\(result.serial.suffix(4000))")
        #expect(result.serial.contains("pxhv-guest: cpus 2"))
        #expect(result.serial.contains("pxhv-guest: workload: one process pinned per CPU ok (2)"), "serial log:\n\(result.serial.suffix(4000))")
        #expect(!result.serial.contains("pxhv-guest: error"))
        #expect(result.serial.contains("pxhv-guest: done"))
        #expect(EndToEnd.line(matching: "^pxhv: guest: powered off", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        // The AP ran Linux: its exits, its local APIC writes (EOIs) among them.
        #expect(EndToEnd.line(matching: "^pxhv: cpu 1: exits total=[0-9]+ .* ept=[1-9]", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(!result.verdict.contains("did not stop"))
        #expect(!result.serial.contains("pxhv: error:"))
    }

    /// The SMP test guest with 2 and 4 CPUs: every AP becomes a vCPU waiting
    /// in VMX root for the guest's STARTUP; the guest's INIT and STARTUP
    /// IPIs are trapped (writes to the local APIC page exit) and delivered
    /// by pxHV, never sent; each AP runs its real-mode and long-mode checks
    /// (hypercalls from the APs, the console lock), reports its APIC ID and
    /// increments the shared counter with LOCK; when the guest powers off on
    /// the boot CPU every AP's vCPU is stopped and parked before pxHV
    /// reports and powers off.
    @Test(.enabled(if: EndToEnd.canRun(.bochs)), arguments: [2, 4])
    func smpGuestGetsTheAPsAsVCPUs(cpus: Int) throws {
        var runner = BochsRunner(image: try EndToEnd.smpImage.get(), workDirectory: EndToEnd.work("bochs-smp-guest-\(cpus)"))
        runner.cpuCount = cpus
        runner.timeout = 900
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: SMP guest, \(cpus) CPUs: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.verdict.split(whereSeparator: \.isNewline) where line.hasPrefix("pxhv: cpu") || line.contains("guest") {
            print("pxhv-e2e: \(line)")
        }
        for line in result.serial.split(whereSeparator: \.isNewline) where line.contains("pxhv-guest:") {
            print("pxhv-e2e: \(line)")
        }
        #expect(result.outcome == .poweredOff, "verdict:\n\(result.verdict)")
        let aps = (1..<cpus).map { "\($0) (cpu \($0))" }.joined(separator: " ")
        let waiting = "^" + NSRegularExpression.escapedPattern(for: "pxhv: cpu: vCPUs waiting for STARTUP in VMX root on APIC IDs \(aps)") + "$"
        #expect(EndToEnd.line(matching: waiting, in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: guest: PASS smp: ACPI MADT found$", in: result.verdict) != nil)
        #expect(result.serial.contains("pxhv-guest: smp: MADT lists \(cpus) enabled CPUs, BSP APIC ID 0"))
        for cpu in 1..<cpus {
            #expect(result.serial.contains("pxhv-guest: cpu \(cpu) up"), "serial:\n\(result.serial)")
            // Stopped and parked: its statistics; its checks were hypercalls.
            #expect(EndToEnd.line(matching: "^pxhv: cpu \(cpu): exits total=[0-9]+ ", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
            #expect(EndToEnd.line(matching: "^pxhv: cpu \(cpu): exits by reason: .*18 VMCALL=[1-9]", in: result.verdict) != nil)
            // No real INIT or SIPI reached it: no INIT or SIPI exit.
            #expect(EndToEnd.line(matching: "^pxhv: cpu \(cpu): exits by reason: .*(INIT signal|SIPI)", in: result.verdict) == nil)
        }
        // The boot CPU's ICR writes exited (EPT violations) and were emulated.
        #expect(EndToEnd.line(matching: "^pxhv: exits total=[0-9]+ .* ept=[1-9]", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(result.serial.contains("pxhv-guest: cpus \(cpus)"))
        // 3 checks on the boot CPU, 8 on each AP.
        #expect(EndToEnd.line(matching: "^pxhv: guest result: PASS \(3 + 8 * (cpus - 1))/\(3 + 8 * (cpus - 1))$", in: result.verdict) != nil,
                "verdict:\n\(result.verdict)")
        #expect(!result.verdict.contains("did not stop"))
        #expect(!result.verdict.contains("VM entry failure"), "verdict:\n\(result.verdict)")
        #expect(!result.verdict.contains("pxhv: error:"), "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: powering off$", in: result.verdict) != nil)
    }
}

/// AMD-V (Bochs's `ryzen`, 2 CPUs): SVM has no wait-for-SIPI state and
/// no SIPI exit; the AP waits for its guest's STARTUP in its park guest
/// (real-mode HLT, INIT intercepted), where it also takes its NMIs: the
/// host never sets GIF. The boot-time INIT (as a guest would send it) is
/// latched by the parked AP, as the APM says, so pxHV releases it at boot
/// and starts the AP again; the SMP guest then gets the AP as its vCPU.
@Suite(.serialized)
struct SMPBootsUnderAMDV {
    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func smpGuestGetsTheAPAsItsVCPU() throws {
        var runner = BochsRunner(image: try EndToEnd.smpImage.get(), workDirectory: EndToEnd.work("bochs-ryzen-smp-guest"))
        runner.cpuModel = "ryzen"
        runner.cpuCount = 2
        runner.timeout = 600
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: SMP guest, AMD-V, 2 CPUs: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.verdict.split(whereSeparator: \.isNewline) where line.hasPrefix("pxhv: cpu") || line.contains("guest result") {
            print("pxhv-e2e: \(line)")
        }
        #expect(result.outcome == .poweredOff, "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: #"^pxhv: cpu: APIC ID 1 held the INIT latched in its park guest \(contained\); it took it at boot and was started again: parked$"#, in: result.verdict) != nil,
                "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: #"^pxhv: cpu: INIT and STARTUP sent to the parked APs as a guest would: 1 of 1 still parked in their SVM guests$"#, in: result.verdict) != nil)
        #expect(EndToEnd.line(matching: #"^pxhv: cpu: vCPUs waiting for STARTUP in their park guests on APIC IDs 1 \(cpu 1\)$"#, in: result.verdict) != nil,
                "verdict:\n\(result.verdict)")
        #expect(result.serial.contains("pxhv-guest: cpu 1 up"), "serial:\n\(result.serial)")
        #expect(result.serial.contains("pxhv-guest: cpus 2"))
        // The AP's checks were its hypercalls; its stop was a kick (an NMI exit).
        #expect(EndToEnd.line(matching: "^pxhv: cpu 1: exits by reason: .*18 VMCALL=[1-9]", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: cpu 1: exits by reason: .*\\(NMI\\)=[1-9]", in: result.verdict) != nil)
        // The boot CPU's ICR writes faulted (nested page faults) and were emulated.
        #expect(EndToEnd.line(matching: "^pxhv: exits total=[0-9]+ .* ept=[1-9]", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: guest result: PASS 11/11$", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(!result.verdict.contains("did not stop"))
        #expect(!result.verdict.contains("pxhv: error:"), "verdict:\n\(result.verdict)")
    }
}

/// The SMP guest's attack build: once every AP is up, the first AP reads
/// the hypervisor's memory. The AP's exit reports it with its CPU number,
/// the boot CPU's vCPU is stopped too ("CPU 1 stopped the guest"), every
/// AP is parked, and pxHV reports and powers off; the boot CPU never gets
/// to its "still running" check.
@Suite(.serialized)
struct SMPAttackBoots {
    static let image: Result<BuiltImage, ToolError> = EndToEnd.build(.smp, "smp-attack") { $0.smpAPAttack = true }

    /// On both vendors: Bochs's VT-x and its AMD-V (`ryzen`), where the
    /// stop reaches the boot CPU as a kick its park guest takes.
    @Test(.enabled(if: EndToEnd.canRun(.bochs)), arguments: ["corei7_skylake_x", "ryzen"])
    func anAPTouchingHypervisorMemoryStopsTheGuestOnEveryCPU(cpuModel: String) throws {
        var runner = BochsRunner(image: try Self.image.get(), workDirectory: EndToEnd.work("bochs-smp-attack-\(cpuModel)"))
        runner.cpuModel = cpuModel
        runner.cpuCount = 2
        runner.timeout = 600
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: SMP attack, \(cpuModel), 2 CPUs: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.verdict.split(whereSeparator: \.isNewline) where line.hasPrefix("pxhv: cpu 1") || line.contains("guest") {
            print("pxhv-e2e: \(line)")
        }
        #expect(result.outcome == .poweredOff, "verdict:\n\(result.verdict)")
        #expect(result.serial.contains("pxhv-guest: cpu 1 up"), "serial:\n\(result.serial)")
        #expect(EndToEnd.line(matching: #"^pxhv: cpu 1: guest: stopped: access to hypervisor memory at GPA 0x200000 \(read\), RIP 0x[0-9a-f]+: the guest stops on every CPU$"#, in: result.verdict) != nil,
                "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: guest: stopped: CPU 1 stopped the guest$", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: cpu 1: exits total=[0-9]+ ", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(!result.verdict.contains("still running after an AP read hypervisor memory"), "verdict:\n\(result.verdict)")
        #expect(!result.verdict.contains("did not stop"))
        #expect(RunOutcome.verdict(result.verdict, hasLine: RunOutcome.powerOffLine), "verdict:\n\(result.verdict)")
    }
}
