import Foundation
import PXHVToolKit
import Testing

/// BIOS guests (`--guest bios`): a boot floppy started at 0:7C00 on the
/// emulator's own BIOS, its INT 13h and INT 15h memory services served by
/// pxHV. The BIOS test guest (Guest/bios/biostest.asm) checks and attacks
/// those services from inside; every check must pass under both vendors.
@Suite(.serialized)
struct BIOSGuestBoots {
    /// Guest/bios/biostest.asm assembled into a 1.44 MB floppy image, or
    /// (`-DHARD_DISK`) a 4 MiB hard-disk image.
    static func assembleTestDisk(hardDisk: Bool) -> Result<URL, ToolError> {
        let output = EndToEnd.outputDirectory.appendingPathComponent(hardDisk ? "biostest-hd.img" : "biostest.img")
        do {
            try FileManager.default.createDirectory(at: EndToEnd.outputDirectory, withIntermediateDirectories: true)
            let source = EndToEnd.packageDirectory.appendingPathComponent("Guest/bios/biostest.asm")
            let include = EndToEnd.packageDirectory.appendingPathComponent("Guest/include").path + "/"
            try Shell.check(
                try SystemTool.nasm.locate(),
                ["-f", "bin", "-I", include] + (hardDisk ? ["-DHARD_DISK"] : []) + ["-o", output.path, source.path])
            return .success(output)
        } catch let error as ToolError {
            return .failure(error)
        } catch {
            return .failure(ToolError("\(error)"))
        }
    }

    static func image(hardDisk: Bool) -> Result<BuiltImage, ToolError> {
        switch assembleTestDisk(hardDisk: hardDisk) {
        case .failure(let error): return .failure(error)
        case .success(let disk): return EndToEnd.build(.bios, hardDisk ? "bios-test-hd" : "bios-test") { $0.diskImage = disk }
        }
    }

    static let testImage = image(hardDisk: false)
    static let hardDiskImage = image(hardDisk: true)

    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func biosTestGuestPassesUnderBochs() throws {
        var runner = BochsRunner(image: try Self.testImage.get(), workDirectory: EndToEnd.work("bochs-bios-test"))
        runner.timeout = 300
        runner.echo = false
        Self.checkPass(try runner.run(), "bochs vmx")
    }

    @Test(.enabled(if: EndToEnd.canRun(.qemu)))
    func biosTestGuestPassesUnderQEMUWithAMDV() throws {
        var runner = QEMURunner(image: try Self.testImage.get(), workDirectory: EndToEnd.work("qemu-bios-test"))
        runner.timeout = 300
        runner.echo = false
        Self.checkPass(try runner.run(), "qemu svm")
    }

    /// The hard-disk build (drive 80h, EDD 41h/42h/43h/48h and their
    /// attacks), under both vendors.
    @Test(.enabled(if: EndToEnd.canRun(.bochs) && EndToEnd.canRun(.qemu)))
    func biosTestHardDiskPassesUnderBothVendors() throws {
        var bochs = BochsRunner(image: try Self.hardDiskImage.get(), workDirectory: EndToEnd.work("bochs-bios-test-hd"))
        bochs.timeout = 300
        bochs.echo = false
        Self.checkPass(try bochs.run(), "bochs vmx", hardDisk: true)
        var qemu = QEMURunner(image: try Self.hardDiskImage.get(), workDirectory: EndToEnd.work("qemu-bios-test-hd"))
        qemu.timeout = 300
        qemu.echo = false
        Self.checkPass(try qemu.run(), "qemu svm", hardDisk: true)
    }

    // MARK: - FreeDOS

    /// The FreeDOS 1.3 boot floppy beside the project (test data, never
    /// committed: ../shared/guests/freedos/README.md; `SharedGuestData`).
    static let freeDOSSource = SharedGuestData.file("freedos/freedos-1.3-boot.img", package: EndToEnd.packageDirectory)

    /// Runs when the emulator and the FreeDOS image exist, or when CI
    /// requires it (then a missing one fails the test).
    static func canRunFreeDOS(_ tool: SystemTool) -> Bool {
        guard EndToEnd.canRun(tool) else { return false }
        if EndToEnd.required || FileManager.default.fileExists(atPath: freeDOSSource.path) { return true }
        print("pxhv-e2e: skipping FreeDOS: \(freeDOSSource.path) not found; set PXHV_REQUIRE_E2E=1 to fail instead")
        return false
    }

    static let freeDOSImage: Result<BuiltImage, ToolError> = EndToEnd.build(.freedos, "freedos") { $0.freeDOSImage = freeDOSSource }
    static let freeDOSAPMImage: Result<BuiltImage, ToolError> = EndToEnd.build(.freedos, "freedos-apm") {
        $0.freeDOSImage = freeDOSSource
        $0.freeDOSPowerOff = .fdapm
    }

    /// FreeDOS under Bochs's VT-x, ended by its own FDAPM: the check
    /// program (PXHVCHK /KEEP) reports its checks and returns, FDAPM
    /// powers off through the Bochs BIOS's APM, whose "Shutdown" at 0x8900
    /// pxHV takes as the guest's power-off. Prints the run's exits.
    @Test(.enabled(if: canRunFreeDOS(.bochs)))
    func freeDOSUnderBochsPowersOffWithFDAPM() throws {
        var runner = BochsRunner(image: try Self.freeDOSAPMImage.get(), workDirectory: EndToEnd.work("bochs-freedos"))
        runner.timeout = 300
        runner.echo = false
        let result = try runner.run()
        Self.checkFreeDOS(result, "bochs vmx", powerOff: .fdapm)
    }

    /// FreeDOS under QEMU's AMD-V, twice: ended by the check program's
    /// hypercall, then by FDAPM (SeaBIOS's APM writes S5 to PM1a).
    @Test(.enabled(if: canRunFreeDOS(.qemu)))
    func freeDOSUnderQEMUWithAMDV() throws {
        for (image, powerOff) in [(try Self.freeDOSImage.get(), FreeDOSPowerOff.hypercall), (try Self.freeDOSAPMImage.get(), .fdapm)] {
            var runner = QEMURunner(image: image, workDirectory: EndToEnd.work("qemu-freedos-\(powerOff.rawValue)"))
            runner.timeout = 300
            runner.echo = false
            Self.checkFreeDOS(try runner.run(), "qemu svm", powerOff: powerOff)
        }
    }

    /// FreeDOS came up, the check program's checks (DOS version, memory as
    /// INT 12h and INT 15h report it, the file round trip on A:) all
    /// passed, and the guest ended by `powerOff`.
    static func checkFreeDOS(_ result: RunResult, _ name: String, powerOff: FreeDOSPowerOff, sourceLocation: SourceLocation = #_sourceLocation) {
        print("pxhv-e2e: \(name) freedos (\(powerOff.rawValue)): \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.verdict.split(whereSeparator: \.isNewline)
        where line.hasPrefix("pxhv: exits") || line.contains("guest result") || line.hasPrefix("pxhv: bios: INT") {
            print("pxhv-e2e: \(name) \(line)")
        }
        #expect(result.outcome == .poweredOff, "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        for line in ["pxhv-guest: freedos up", "pxhv-guest: done", "FreeDOS kernel 2043",
                     "pxhv-guest: check: dos: the bytes read back are the bytes written: pass"] {
            #expect(result.serial.contains(line), "\(line): \(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        }
        if powerOff == .fdapm {
            #expect(result.serial.contains("pxhv-guest: autoexec.bat: FDAPM PUREOFF"), "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        }
        let pass = EndToEnd.line(matching: #"^pxhv: guest result: PASS ([0-9]+)/\1$"#, in: result.verdict)
        #expect(pass != nil, "no all-PASS result line; \(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(result.verdict.contains("pxhv: guest: powered off (status 0)"), "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: #"^pxhv: bios: INT 13h calls [0-9]+ \(0 failed\): .*AH=0x3 [0-9]+"#, in: result.verdict) != nil,
                "the file written through INT 13h AH=03h; \(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: #"^pxhv: exits by reason: "#, in: result.verdict) != nil, sourceLocation: sourceLocation)
        #expect(RunOutcome.verdict(result.verdict, hasLine: RunOutcome.powerOffLine), sourceLocation: sourceLocation)
    }

    /// Every check passed and the guest powered off with status 0; the
    /// handler's install line, the services line and the exits are on the
    /// verdict channel.
    static func checkPass(_ result: RunResult, _ name: String, hardDisk: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
        print("pxhv-e2e: \(name) bios test guest\(hardDisk ? " (hard disk)" : ""): \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.verdict.split(whereSeparator: \.isNewline)
        where line.hasPrefix("pxhv: exits") || line.contains("guest result") || line.hasPrefix("pxhv: bios:") {
            print("pxhv-e2e: \(name) \(line)")
        }
        #expect(result.outcome == .poweredOff, "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(result.serial.contains("pxhv-guest: bios test guest up"), "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(result.serial.contains("pxhv-guest: bios test guest done"), "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        let pass = EndToEnd.line(matching: #"^pxhv: guest result: PASS ([0-9]+)/\1$"#, in: result.verdict)
        #expect(pass != nil, "no all-PASS result line; \(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(!result.verdict.contains("pxhv: guest: FAIL"), sourceLocation: sourceLocation)
        #expect(result.verdict.contains("pxhv: guest: powered off (status 0)"), "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        let disk = hardDisk
            ? #"^pxhv: bios: disk image 4194304 bytes as drive 0x80 \(hard disk, C/H/S 8/16/63\); INT 13h and INT 15h handler at 0x[0-9a-f]+"#
            : #"^pxhv: bios: disk image 1474560 bytes as drive 0x0 \(floppy, C/H/S 80/2/18\); INT 13h and INT 15h handler at 0x[0-9a-f]+"#
        #expect(EndToEnd.line(matching: disk, in: result.verdict) != nil, "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        let services = hardDisk
            ? #"^pxhv: bios: INT 13h calls [0-9]+ \([0-9]+ failed\): AH=0x1 1, AH=0x2 [0-9]+, AH=0x3 1, AH=0x8 1, AH=0x15 1, AH=0x41 1, AH=0x42 [0-9]+, AH=0x43 1, AH=0x48 1, AH=0x50 1; INT 15h memory calls [0-9]+$"#
            : #"^pxhv: bios: INT 13h calls [0-9]+ \([0-9]+ failed\): AH=0x1 1, AH=0x2 [0-9]+, AH=0x3 1, AH=0x8 1, AH=0x15 1, AH=0x41 1, AH=0x50 1; INT 15h memory calls [0-9]+$"#
        #expect(EndToEnd.line(matching: services, in: result.verdict) != nil, "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: #"^pxhv: exits total=[0-9]+ "#, in: result.verdict) != nil, sourceLocation: sourceLocation)
        #expect(RunOutcome.verdict(result.verdict, hasLine: RunOutcome.powerOffLine), sourceLocation: sourceLocation)
    }
}
