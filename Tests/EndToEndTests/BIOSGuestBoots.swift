import Foundation
import PXHVToolKit
import Testing

/// BIOS guests (`--guest bios`): a boot floppy started at 0:7C00 on the
/// emulator's own BIOS, its INT 13h and INT 15h memory services served by
/// pxHV. The BIOS test guest (Guest/bios/biostest.asm) checks and attacks
/// those services from inside; every check must pass under both vendors.
@Suite(.serialized)
struct BIOSGuestBoots {
    /// Guest/bios/biostest.asm assembled into a 1.44 MB floppy image.
    static let testFloppy: Result<URL, ToolError> = {
        let output = EndToEnd.outputDirectory.appendingPathComponent("biostest.img")
        do {
            try FileManager.default.createDirectory(at: EndToEnd.outputDirectory, withIntermediateDirectories: true)
            let source = EndToEnd.packageDirectory.appendingPathComponent("Guest/bios/biostest.asm")
            let include = EndToEnd.packageDirectory.appendingPathComponent("Guest/include").path + "/"
            let nasm = Process()
            nasm.executableURL = try SystemTool.nasm.locate()
            nasm.arguments = ["-f", "bin", "-I", include, "-o", output.path, source.path]
            try nasm.run()
            nasm.waitUntilExit()
            guard nasm.terminationStatus == 0 else { return .failure(ToolError("nasm failed on \(source.path)")) }
            return .success(output)
        } catch let error as ToolError {
            return .failure(error)
        } catch {
            return .failure(ToolError("\(error)"))
        }
    }()

    static let testImage: Result<BuiltImage, ToolError> = {
        switch testFloppy {
        case .failure(let error): return .failure(error)
        case .success(let floppy): return EndToEnd.build(.bios, "bios-test") { $0.diskImage = floppy }
        }
    }()

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

    /// Every check passed and the guest powered off with status 0; the
    /// handler's install line, the services line and the exits are on the
    /// verdict channel.
    static func checkPass(_ result: RunResult, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        print("pxhv-e2e: \(name) bios test guest: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
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
        #expect(EndToEnd.line(matching: #"^pxhv: bios: disk image 1474560 bytes as drive 0x0 \(floppy, C/H/S 80/2/18\); INT 13h and INT 15h handler at 0x[0-9a-f]+"#, in: result.verdict) != nil,
                "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: #"^pxhv: bios: INT 13h calls [0-9]+ \([0-9]+ failed\): AH=0x1 1, AH=0x2 [0-9]+, AH=0x3 1, AH=0x8 1, AH=0x15 1, AH=0x41 1, AH=0x50 1; INT 15h memory calls [0-9]+$"#, in: result.verdict) != nil,
                "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: #"^pxhv: exits total=[0-9]+ "#, in: result.verdict) != nil, sourceLocation: sourceLocation)
        #expect(RunOutcome.verdict(result.verdict, hasLine: RunOutcome.powerOffLine), sourceLocation: sourceLocation)
    }
}
