import Foundation
import PXHVToolKit
import Testing

extension EndToEnd {
    static let smpImage: Result<BuiltImage, ToolError> = build(.smp, "smp")
}

/// Bochs with two CPUs: pxHV starts the second one, parks it in VMX root
/// (where INIT is blocked and SIPI ignored), and the guests still run; the
/// Linux guest is shown only the boot CPU. With the SMP test guest
/// (Guest/smp) the parked APs become its vCPUs, waiting for its SIPI.
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

    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func linuxSeesOneCPUWithTheSecondParked() throws {
        var runner = BochsRunner(image: try EndToEnd.linuxImage.get(), workDirectory: EndToEnd.work("bochs-smp-linux"))
        runner.cpuCount = 2
        runner.timeout = 1500
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: linux, 2 CPUs: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        #expect(result.outcome == .poweredOff, "serial log:\n\(result.serial.suffix(4000))")
        #expect(EndToEnd.line(matching: Self.parkedLine, in: result.serial) != nil)
        #expect(EndToEnd.line(matching: #"^pxhv: acpi: guest tables at 0x6e000: .* with 1 processor \(1 removed\)$"#, in: result.serial) != nil)
        #expect(result.serial.contains("smp: Brought up 1 node, 1 CPU"), "serial log:\n\(result.serial.suffix(4000))")
        #expect(result.serial.contains("pxhv-guest: done"))
        #expect(!result.serial.contains("pxhv: error:"))
    }

    /// The SMP test guest with 2 and 4 CPUs: every AP becomes a vCPU waiting
    /// for SIPI, the guest's SIPI reaches it as a VM exit and starts it, and
    /// when the guest powers off on the boot CPU every AP's vCPU is stopped
    /// and parked before pxHV reports and powers off.
    ///
    /// Known Bochs 2.7 gap: after an INIT VM exit the INIT stays pending
    /// (its handleAsyncEvent does not clear it before the exit), so every
    /// later entry of that vCPU in the active state exits with INIT again:
    /// an AP the guest INITs never runs an instruction under Bochs 2.7. The
    /// guest's own results (every AP up, the counter) are a known issue
    /// there; the test fails when that changes, so it is seen.
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
        let waiting = "^" + NSRegularExpression.escapedPattern(for: "pxhv: cpu: vCPUs waiting for SIPI on APIC IDs \(aps)") + "$"
        #expect(EndToEnd.line(matching: waiting, in: result.verdict) != nil, "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: guest: PASS smp: ACPI MADT found$", in: result.verdict) != nil)
        #expect(result.serial.contains("pxhv-guest: smp: MADT lists \(cpus) enabled CPUs, BSP APIC ID 0"))
        for cpu in 1..<cpus {
            // Stopped and parked: its statistics; the guest's SIPI reached it as an exit.
            #expect(EndToEnd.line(matching: "^pxhv: cpu \(cpu): exits total=[0-9]+ ", in: result.verdict) != nil, "verdict:\n\(result.verdict)")
            #expect(EndToEnd.line(matching: "^pxhv: cpu \(cpu): exits by reason: .*4 Start-up IPI \\(SIPI\\)=[1-9]", in: result.verdict) != nil)
        }
        #expect(!result.verdict.contains("did not stop"))
        #expect(!result.verdict.contains("VM entry failure"), "verdict:\n\(result.verdict)")
        #expect(!result.verdict.contains("pxhv: error:"), "verdict:\n\(result.verdict)")
        #expect(EndToEnd.line(matching: "^pxhv: powering off$", in: result.verdict) != nil)

        withKnownIssue("Bochs 2.7 keeps an INIT pending after the INIT VM exit: the guest's APs never run") {
            for cpu in 1..<cpus {
                #expect(result.serial.contains("pxhv-guest: cpu \(cpu) up"))
            }
            #expect(result.serial.contains("pxhv-guest: cpus \(cpus)"))
            #expect(EndToEnd.line(matching: #"^pxhv: guest result: PASS ([0-9]+)/\1$"#, in: result.verdict) != nil)
        }
    }
}
