import Foundation
import PXHVToolKit
import Testing

/// End-to-end boots: build the real image once, boot it in an emulator, read
/// the serial log. Without the emulator they are skipped with the reason in
/// the test's name, unless PXHV_REQUIRE_E2E=1 (CI), where they run and fail.
enum EndToEnd {
    static let packageDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let outputDirectory = packageDirectory.appendingPathComponent(".build/pxhv-e2e", isDirectory: true)

    static var required: Bool { ProcessInfo.processInfo.environment["PXHV_REQUIRE_E2E"] == "1" }

    /// Run when the emulator exists, or when CI requires it (then a missing
    /// emulator fails the test instead of skipping it).
    static func canRun(_ tool: SystemTool) -> Bool {
        if required { return true }
        if !tool.isAvailable {
            print("pxhv-e2e: skipping: \(tool.name) not installed (Debian package \(tool.debianPackage)); set PXHV_REQUIRE_E2E=1 to fail instead")
            return false
        }
        return SystemTool.nasm.isAvailable && SystemTool.xorriso.isAvailable
    }

    /// One image per guest choice, each built on first use.
    static let image: Result<BuiltImage, ToolError> = build(.none, "none")
    static let testGuestImage: Result<BuiltImage, ToolError> = build(.test, "test")
    static let panicImage: Result<BuiltImage, ToolError> = build(.none, "panic", panicTest: true)
    static let linuxImage: Result<BuiltImage, ToolError> = build(.linux, "linux")
    static let directLinuxImage: Result<BuiltImage, ToolError> = build(.linux, "linux-direct", direct: true)

    static func build(_ guest: GuestChoice, _ name: String, direct: Bool = false, panicTest: Bool = false) -> Result<BuiltImage, ToolError> {
        do {
            var options = ImageOptions(packageDirectory: packageDirectory, outputDirectory: outputDirectory.appendingPathComponent(name))
            options.guest = guest
            options.direct = direct
            options.panicTest = panicTest
            return .success(try ImageBuilder(options: options).build())
        } catch let error as ToolError {
            return .failure(error)
        } catch {
            return .failure(ToolError("\(error)"))
        }
    }

    static func work(_ name: String) -> URL { outputDirectory.appendingPathComponent(name, isDirectory: true) }

    /// The first line of `serial` that matches `pattern`, if any.
    static func line(matching pattern: String, in serial: String) -> Substring? {
        serial.split(whereSeparator: \.isNewline).first { $0.range(of: pattern, options: .regularExpression) != nil }
    }
}

@Suite(.serialized)
struct BochsBoots {
    /// What a successful boot must print, in order.
    static let expectedLines = [
        #"^pxhv: pxHV [0-9]+\.[0-9]+\.[0-9]+ booting"#,
        #"^pxhv: vmx: VMXON ok \(revision 0x[0-9a-f]+\)"#,
        #"^pxhv: powering off"#,
    ]

    static func boot(_ medium: BootMedium) throws -> RunResult {
        var runner = BochsRunner(image: try EndToEnd.image.get(), workDirectory: EndToEnd.work("bochs-\(medium.rawValue)"))
        runner.medium = medium
        runner.timeout = 300
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: bochs \(medium.rawValue): \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        return result
    }

    static func check(_ result: RunResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.outcome == .poweredOff, "serial log:\n\(result.serial)", sourceLocation: sourceLocation)
        var position = result.serial.startIndex
        for pattern in expectedLines {
            let rest = result.serial[position...]
            guard let line = EndToEnd.line(matching: pattern, in: String(rest)),
                  let found = rest.range(of: line) else {
                Issue.record("no line matching \(pattern) in order; serial log:\n\(result.serial)", sourceLocation: sourceLocation)
                return
            }
            position = found.upperBound
        }
        #expect(!result.serial.contains("pxhv: error:"), "serial log:\n\(result.serial)", sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func isoBootsToVMXONAndPowersOff() throws {
        Self.check(try Self.boot(.iso))
    }

    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func rawDiskBootsToVMXONAndPowersOff() throws {
        Self.check(try Self.boot(.disk))
    }

    /// A CPU exception in root mode, after VMXON and with the big boot-time
    /// stack frames behind it, gives the panic report and a halt: no triple
    /// fault, no reboot.
    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func rootModeExceptionGivesAPanicReportAndHalts() throws {
        var runner = BochsRunner(image: try EndToEnd.panicImage.get(), workDirectory: EndToEnd.work("bochs-panic"))
        runner.timeout = 120
        runner.echo = false
        runner.stopWhen = { $0.contains("pxhv: halted") }
        let result = try runner.run()
        #expect(result.outcome == .halted, "serial log:\n\(result.serial)")
        #expect(EndToEnd.line(matching: #"^pxhv: error: panic: CPU exception 6 \(#UD invalid opcode\) error code 0x0 at RIP 0x[0-9a-f]+"#, in: result.serial) != nil, "serial log:\n\(result.serial)")
        #expect(EndToEnd.line(matching: "^pxhv: panic: CR2 0x", in: result.serial) != nil)
    }
}

@Suite(.serialized)
struct QEMUBoots {
    static let noVMXLine = "pxhv: error: VT-x not available (CPUID.1:ECX.VMX=0)"

    /// QEMU's TCG has no VMX: the hypervisor must say so and halt with
    /// interrupts off, not reboot (-no-reboot would end QEMU on a reset).
    @Test(.enabled(if: EndToEnd.canRun(.qemu)))
    func cpuWithoutVMXGetsAClearErrorAndHalts() throws {
        var runner = QEMURunner(image: try EndToEnd.image.get(), workDirectory: EndToEnd.work("qemu-novmx"))
        runner.cpu = "qemu64"
        runner.timeout = 120
        runner.echo = false
        runner.stopWhen = { $0.contains("pxhv: halted") }
        let result = try runner.run()
        #expect(result.outcome == .halted, "serial log:\n\(result.serial)")
        #expect(result.serial.contains(Self.noVMXLine), "serial log:\n\(result.serial)")
        #expect(result.serial.components(separatedBy: "booting").count == 2, "booted exactly once:\n\(result.serial)")
    }
}

@Suite(.serialized)
struct TestGuestBoots {
    /// The built-in test guests under Bochs's VT-x: every check passes, the
    /// read of hypervisor memory stops the guest (not the hypervisor), and
    /// the hypervisor then reports and powers off. Prints the benchmark.
    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func testGuestsPassUnderBochs() throws {
        var runner = BochsRunner(image: try EndToEnd.testGuestImage.get(), workDirectory: EndToEnd.work("bochs-test-guests"))
        runner.timeout = 600
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: test guests: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.serial.split(whereSeparator: \.isNewline) where line.contains("bench") || line.hasPrefix("pxhv: exits") || line.contains("guest result") {
            print("pxhv-e2e: \(line)")
        }
        #expect(result.outcome == .poweredOff, "serial log:\n\(result.serial)")
        let pass = EndToEnd.line(matching: #"^pxhv: guest result: PASS ([0-9]+)/\1$"#, in: result.serial)
        #expect(pass != nil, "no all-PASS result line; serial log:\n\(result.serial)")
        #expect(EndToEnd.line(matching: #"^pxhv: exits total=[0-9]+ cpuid=[0-9]+ msr=[0-9]+ io=[0-9]+ cr=[0-9]+ ept=[0-9]+ vmcall=[0-9]+ hlt=[0-9]+ other=[0-9]+$"#, in: result.serial) != nil)
        #expect(EndToEnd.line(matching: "^pxhv: guest: stopped: access to hypervisor memory at GPA 0x201000", in: result.serial) != nil)
        #expect(!result.serial.contains("pxhv: guest: FAIL"))
        #expect(EndToEnd.line(matching: "^pxhv: powering off", in: result.serial) != nil)
    }
}

/// The heart of the product: Debian's kernel and our busybox initramfs boot
/// to userspace as pxHV's guest under Bochs's VT-x, and power off. The same
/// kernel booted directly by the same chain (`--direct`) is the baseline;
/// both wall times and their ratio are printed (measured, not asserted).
@Suite(.serialized)
struct LinuxBoots {
    static let guestLines = [
        "pxhv-guest: userspace up",
        "pxhv-guest: cpu flags: hypervisor=yes vmx=no",
        "pxhv-guest: workload: fork/exec ok (20)",
        "pxhv-guest: done",
    ]

    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func linuxBootsUnderPxHVThenDirect() throws {
        var runner = BochsRunner(image: try EndToEnd.linuxImage.get(), workDirectory: EndToEnd.work("bochs-linux"))
        runner.timeout = 1200
        runner.echo = false
        let virtualized = try runner.run()
        print("pxhv-e2e: linux under pxHV: \(virtualized.outcome.summary) in \(String(format: "%.1f", virtualized.seconds)) s")
        for line in virtualized.serial.split(whereSeparator: \.isNewline) where line.hasPrefix("pxhv: exits") || line.hasPrefix("pxhv-guest:") {
            print("pxhv-e2e: \(line)")
        }
        #expect(virtualized.outcome == .poweredOff, "serial log:\n\(virtualized.serial.suffix(4000))")
        for line in Self.guestLines {
            #expect(virtualized.serial.contains(line), "missing '\(line)'; serial log:\n\(virtualized.serial.suffix(4000))")
        }
        #expect(EndToEnd.line(matching: "^pxhv: guest: powered off \\(status 0\\)", in: virtualized.serial) != nil)
        #expect(EndToEnd.line(matching: #"^pxhv: exits total=[0-9]+ cpuid=[0-9]+ msr=[0-9]+ io=[0-9]+ cr=[0-9]+ ept=[0-9]+ vmcall=[0-9]+ hlt=[0-9]+ other=[0-9]+$"#, in: virtualized.serial) != nil)
        #expect(EndToEnd.line(matching: "^pxhv: powering off", in: virtualized.serial) != nil)

        var direct = BochsRunner(image: try EndToEnd.directLinuxImage.get(), workDirectory: EndToEnd.work("bochs-linux-direct"))
        direct.timeout = 1200
        direct.echo = false
        let native = try direct.run()
        print("pxhv-e2e: linux direct: \(native.outcome.summary) in \(String(format: "%.1f", native.seconds)) s")
        #expect(native.outcome == .poweredOff)
        #expect(native.serial.contains("pxhv-guest: done"))
        #expect(native.serial.contains("pxhv-guest: cpu flags: hypervisor=no"), "the direct boot has no hypervisor")
        print("pxhv-e2e: bench linux boot wall time: virtualized \(String(format: "%.1f", virtualized.seconds)) s, direct \(String(format: "%.1f", native.seconds)) s, ratio \(String(format: "%.3f", virtualized.seconds / native.seconds))")
    }
}
