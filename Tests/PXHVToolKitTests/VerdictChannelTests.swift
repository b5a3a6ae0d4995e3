import Foundation
import Loader
import Testing
@testable import PXHVToolKit

private let fakeImage = BuiltImage(
    iso: URL(fileURLWithPath: "/x/pxhv.iso"), rawImage: URL(fileURLWithPath: "/x/pxhv.img"),
    hypervisorELF: URL(fileURLWithPath: "/x/hypervisor.elf"),
    sizes: .init(stage1: 0, stage2: 0, text: 0, rodata: 0, data: 0, bss: 0, payload: 0, image: 0, iso: 0))

// MARK: - Emulator wiring of the verdict channel (COM2)

@Test func bochsConfigurationSendsCOM1AndCOM2ToTheirLogs() {
    var runner = BochsRunner(image: fakeImage, workDirectory: URL(fileURLWithPath: "/w"))
    runner.cpuCount = 2
    let lines = runner.configuration.split(separator: "\n").map(String.init)
    #expect(lines.contains(#"com1: enabled=1, mode=file, dev="/w/serial.log""#))
    #expect(lines.contains(#"com2: enabled=1, mode=file, dev="/w/verdict.log""#))
    #expect(lines.contains { $0.hasPrefix("cpu: model=corei7_skylake_x, count=2,") })
    #expect(BochsRunner(image: fakeImage, workDirectory: URL(fileURLWithPath: "/w")).configuration.contains("count=1,"))
}

@Test func qemuArgumentsGiveCOM1ThenTheVerdictCOM2() {
    let runner = QEMURunner(image: fakeImage, workDirectory: URL(fileURLWithPath: "/w"))
    for kvm in [false, true] {
        let args = runner.arguments(kvm: kvm)
        // The order matters: the first -serial is COM1 (0x3F8), the second COM2 (0x2F8).
        let serials = args.indices.filter { args[$0] == "-serial" }.map { args[$0 + 1] }
        #expect(serials == ["file:/w/serial.log", "file:/w/verdict.log"])
    }
}

// MARK: - The outcome comes from the verdict channel

@Test func verdictLinesMatchWholeLinesWithCRLF() {
    let verdict = "pxhv: pxHV 0.1.0 booting\r\npxhv: powering off\r\n"
    #expect(RunOutcome.verdict(verdict, hasLine: RunOutcome.powerOffLine))
    #expect(!RunOutcome.verdict(verdict, hasLine: RunOutcome.haltLine))
    #expect(!RunOutcome.verdict("guest| pxhv: powering off\n", hasLine: RunOutcome.powerOffLine), "a line must start with it")
}

@Test func poweredOffNeedsPxHVsLineOnTheVerdictChannel() {
    #expect(RunOutcome.decide(emulator: .poweredOff, verdict: "pxhv: powering off\n") == .poweredOff)
    // A guest that powered the machine off behind pxHV's back (a shutdown
    // port, a forwarded S5) leaves no power-off line on the verdict channel.
    if case .failed(let why) = RunOutcome.decide(emulator: .poweredOff, verdict: "pxhv: pxHV booting\n") {
        #expect(why.contains("verdict channel"))
    } else {
        Issue.record("a power-off without pxHV's line must fail")
    }
    if case .failed = RunOutcome.decide(emulator: .poweredOff, verdict: "pxhv: error: x\npxhv: halted\n") {} else {
        Issue.record("halted, then off, is not a clean power-off")
    }
    // The native baseline: Linux powers off by itself.
    #expect(RunOutcome.decide(emulator: .poweredOff, verdict: "", hypervisorOwnsPowerOff: false) == .poweredOff)
    // What the emulator says otherwise stands.
    #expect(RunOutcome.decide(emulator: .timedOut, verdict: "pxhv: powering off\n") == .timedOut)
    #expect(RunOutcome.decide(emulator: .failed("PANIC"), verdict: "pxhv: powering off\n") == .failed("PANIC"))
}

/// A fake emulator (sh) that forges the halt line on COM1 and then powers
/// off properly: the forged line must not stop the run.
@Test func aForgedHaltLineOnCOM1DoesNotStopTheRun() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("pxhv-verdict-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let serial = RunLogs.serial(work), verdict = RunLogs.verdict(work)
    let script = """
        printf 'guest| pxhv: halted\\npxhv: halted\\n' >> '\(serial.path)'
        sleep 1
        printf 'pxhv: powering off\\r\\n' >> '\(verdict.path)'
        """
    var process = EmulatorProcess(
        executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script], environment: nil,
        serialLog: serial, verdictLog: verdict, echo: false, timeout: 30)
    process.stopWhen = { RunOutcome.verdict($0, hasLine: RunOutcome.haltLine) }
    process.holdSeconds = 0.3
    let result = try process.run { $0 == 0 ? .poweredOff : .failed("status \($0)") }
    #expect(result.outcome == .poweredOff)
    #expect(result.serial.contains("pxhv: halted"))
    #expect(result.verdict == "pxhv: powering off\r\n")
    #expect(result.verdictLog == verdict && result.serialLog == serial)
    #expect(RunOutcome.decide(emulator: result.outcome, verdict: result.verdict) == .poweredOff)
}

/// The halt line on the verdict channel, then silence: `.halted`.
@Test func theHaltLineOnTheVerdictChannelStopsTheRun() throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("pxhv-verdict-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let serial = RunLogs.serial(work), verdict = RunLogs.verdict(work)
    let script = "printf 'pxhv: error: no VT-x\\npxhv: halted\\n' >> '\(verdict.path)'; exec sleep 30"
    var process = EmulatorProcess(
        executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script], environment: nil,
        serialLog: serial, verdictLog: verdict, echo: false, timeout: 20)
    process.stopWhen = { RunOutcome.verdict($0, hasLine: RunOutcome.haltLine) }
    process.holdSeconds = 0.3
    let result = try process.run { _ in .failed("should have been stopped") }
    #expect(result.outcome == .halted)
    #expect(result.seconds < 15)
}

// MARK: - The hostile guest

@Test func hostileIsAGuestChoice() {
    #expect(GuestChoice(rawValue: "hostile") == .hostile)
    #expect(ToolCommand.usage.contains("none | test | linux | hostile"))
    #expect(ToolCommand.usage.contains("verdict.log"))
}

@Test func attackNamesAreReadFromTheSource() {
    let source = """
        ; ATTACK "commented-out", .x
        %macro WRMSR_ATTACK 3
                ATTACK %1, %%recovered
        %endmacro
        atk_one:
                ATTACK "write-host-idt", .recovered
            WRMSR_ATTACK "wrmsr-mtrr-def-type", 0x2FF, 0
        \tOUT_ATTACK\t"reset-port-cf9", 0xCF9, 0x06, b
                PRINT "ATTACK \\"not-one\\""
                call ATTACKER "nope"
        """
    #expect(HostileSuite.attackNames(inSource: source) == ["write-host-idt", "wrmsr-mtrr-def-type", "reset-port-cf9"])
}

@Test func theHostileGuestsAttackNamesFitTheHypercall() throws {
    let names = try HostileSuite.attackNames(package: packageDirectory)
    #expect(names.count >= 40, "\(names)")
    #expect(Set(names).count == names.count, "attack names must be unique")
    for name in names {
        #expect((1...64).contains(name.utf8.count) && name.utf8.allSatisfy { (0x21...0x7E).contains($0) }, "\(name)")
    }
    for expected in ["write-stage2-page-tables", "read-hidden-memory", "write-hidden-memory", "init-sipi-other-cpus",
                     "nmi-storm", "vmcall-at-cpl3", "vmx-instructions-at-cpl3", "vmx-instructions-at-cpl0",
                     "cli-hlt", "spin-interrupts-off", "forged-report-lines", "verdict-uart-com2",
                     "svm-instructions-at-cpl3", "svm-instructions-at-cpl0", "wrmsr-efer-clear-svme",
                     "rdmsr-vm-cr", "wrmsr-vm-hsave-pa-hidden", "wrmsr-pat-invalid-type",
                     "cpuid-exit-cr3-in-hidden-memory", "cpuid-exit-stale-tlb-page-in-hidden-memory"] {
        #expect(names.contains(expected), "\(expected)")
    }
}

@Test(.enabled(if: SystemTool.nasm.isAvailable))
func theHostileGuestAssemblesIntoOneLongModeEntry() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("pxhv-hostile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: out) }
    var options = ImageOptions(packageDirectory: packageDirectory, outputDirectory: out)
    options.guest = .hostile
    let blobs = try ImageBuilder(options: options).guestBlobs()
    #expect(blobs.count == 1)
    let blob = try #require(blobs.first)
    #expect(blob.kind == .hostileGuest)
    #expect(blob.flags == TestGuestStart.longMode.rawValue)
    // Loaded at 0x100000, below its stacks (0x1E0000 ring 3, 0x1F0000 ring 0).
    #expect(!blob.bytes.isEmpty && blob.bytes.count < 0xD_0000)
    #expect(blob.bytes.first == 0xFA, "starts with CLI")
}

@Test func verdictLinesAreRecognized() {
    let lines = [
        "pxhv: hostile: nmi-storm contained (1000 NMIs, 12 in root mode)",
        "pxhv: hostile: write-host-idt ESCAPED (host IDT changed)",
        "pxhv: hostile: cli-hlt contained",
        "pxhv: hostile: summary: 3 attacks, 2 contained, 1 escaped",
        "pxhv: hostile: read-hidden-memory blocked at GPA 0x200000",
        "guest| pxhv: hostile: forged contained",
    ]
    let verdicts = lines.filter { $0.range(of: HostileSuite.verdictPattern, options: .regularExpression) != nil }
    #expect(verdicts == Array(lines[0..<3]))
    #expect(lines[3].range(of: HostileSuite.summaryPattern, options: .regularExpression) != nil)
    #expect(lines[0].hasPrefix(HostileSuite.containedPrefix("nmi-storm")))
    #expect(!lines[0].hasPrefix(HostileSuite.containedPrefix("nmi")))
    // A skip is no verdict; the summary counts skips only when there are any.
    let skipped = "pxhv: hostile: spin-interrupts-off skipped: needs the VMX-preemption timer (a guest spinning with interrupts off keeps it)"
    #expect(skipped.range(of: HostileSuite.verdictPattern, options: .regularExpression) == nil)
    #expect(skipped.hasPrefix(HostileSuite.skippedPrefix("spin-interrupts-off")))
    #expect(!skipped.hasPrefix(HostileSuite.skippedPrefix("spin")))
    #expect("pxhv: hostile: summary: 65 attacks, 65 contained, 0 escaped, 1 skipped".range(of: HostileSuite.summaryPattern, options: .regularExpression) != nil)
    #expect("pxhv: hostile: summary: 65 attacks, 65 contained, 0 escaped, skipped".range(of: HostileSuite.summaryPattern, options: .regularExpression) == nil)
}
