import Foundation
import PXHVToolKit
import Testing

/// Bochs with two CPUs: pxHV starts the second one, parks it in VMX root
/// (where INIT is blocked and SIPI ignored), and the guests still run; the
/// Linux guest is shown only the boot CPU.
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
}
