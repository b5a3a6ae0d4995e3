import Foundation
import Loader
import Testing
@testable import PXHVToolKit

/// A newc reader written apart from the writer, so the round trip checks
/// the format and not the writer against itself.
struct NewcReader {
    struct Entry {
        var name: String
        var ino, mode, uid, gid, nlink, mtime, devMajor, devMinor, rdevMajor, rdevMinor, check: UInt32
        var data: [UInt8]
        var headerOffset: Int
    }

    enum Failure: Error { case badMagic(Int), badField(Int), truncated(Int), badPadding(Int), noTrailer }

    /// Every entry up to and including TRAILER!!!; also checks that the
    /// padding is NUL bytes and that nothing but NULs follows the trailer.
    static func read(_ bytes: [UInt8]) throws -> [Entry] {
        var entries: [Entry] = []
        var offset = 0
        while true {
            guard offset + 110 <= bytes.count else { throw Failure.truncated(offset) }
            guard String(decoding: bytes[offset..<offset + 6], as: UTF8.self) == "070701" else { throw Failure.badMagic(offset) }
            var fields: [UInt32] = []
            for index in 0..<13 {
                let start = offset + 6 + index * 8
                guard let value = UInt32(String(decoding: bytes[start..<start + 8], as: UTF8.self), radix: 16) else {
                    throw Failure.badField(start)
                }
                fields.append(value)
            }
            let nameSize = Int(fields[11]), fileSize = Int(fields[6])
            let nameStart = offset + 110
            guard nameStart + nameSize <= bytes.count, nameSize > 0, bytes[nameStart + nameSize - 1] == 0 else {
                throw Failure.truncated(nameStart)
            }
            let name = String(decoding: bytes[nameStart..<nameStart + nameSize - 1], as: UTF8.self)
            let dataStart = (nameStart + nameSize + 3) & ~3
            let dataEnd = dataStart + fileSize
            let next = (dataEnd + 3) & ~3
            guard next <= bytes.count else { throw Failure.truncated(dataStart) }
            guard bytes[(nameStart + nameSize)..<dataStart].allSatisfy({ $0 == 0 }),
                  bytes[dataEnd..<next].allSatisfy({ $0 == 0 }) else { throw Failure.badPadding(offset) }
            entries.append(Entry(
                name: name, ino: fields[0], mode: fields[1], uid: fields[2], gid: fields[3], nlink: fields[4],
                mtime: fields[5], devMajor: fields[7], devMinor: fields[8], rdevMajor: fields[9], rdevMinor: fields[10],
                check: fields[12], data: Array(bytes[dataStart..<dataEnd]), headerOffset: offset))
            offset = next
            if name == "TRAILER!!!" {
                guard bytes[offset...].allSatisfy({ $0 == 0 }) else { throw Failure.noTrailer }
                return entries
            }
        }
    }
}

let packageDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pxhv-\(name)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A file that passes for a bzImage: "HdrS" at 0x202.
func fakeBzImage(size: Int = 0x1000) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xAA, count: size)
    bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
    return bytes
}

@Suite struct NewcArchiveTests {
    @Test func headerBytesAreExact() {
        var archive = NewcArchive()
        archive.characterDevice("dev/console", major: 5, minor: 1)
        let bytes = archive.serialized()
        // ino 1, mode 0o020600 = 0x2180, uid 0, gid 0, nlink 1, mtime 0,
        // filesize 0, dev 0:0, rdev 5:1, namesize 12, check 0.
        let expected = "070701" + "00000001" + "00002180" + "00000000" + "00000000" + "00000001" + "00000000"
            + "00000000" + "00000000" + "00000000" + "00000005" + "00000001" + "0000000C" + "00000000"
        #expect(expected.utf8.count == 110)
        #expect(Array(bytes[0..<110]) == Array(expected.utf8))
        // 110 + 12 = 122: two NULs of padding, then the next header at 124.
        #expect(Array(bytes[110..<124]) == Array("dev/console".utf8) + [0, 0, 0])
        #expect(Array(bytes[124..<130]) == Array("070701".utf8))
    }

    @Test func trailerEndsTheArchive() throws {
        let bytes = NewcArchive().serialized()
        // 110 + "TRAILER!!!\0" (11) = 121, padded to 124.
        #expect(bytes.count == 124)
        let entries = try NewcReader.read(bytes)
        #expect(entries.map(\.name) == ["TRAILER!!!"])
        #expect(entries[0].mode == 0 && entries[0].data.isEmpty)
    }

    @Test func roundTripKeepsEveryEntry() throws {
        var archive = NewcArchive()
        archive.directory("bin")
        archive.file("bin/a", [1, 2, 3], permissions: 0o644)
        archive.file("bin/bcd", [UInt8](repeating: 7, count: 4), permissions: 0o755)
        archive.symlink("bin/sh", to: "busybox")
        archive.characterDevice("dev/null", major: 1, minor: 3, permissions: 0o666)
        let bytes = archive.serialized()
        #expect(bytes.count % 4 == 0)
        let entries = try NewcReader.read(bytes)
        #expect(entries.map(\.name) == ["bin", "bin/a", "bin/bcd", "bin/sh", "dev/null", "TRAILER!!!"])
        #expect(entries.map(\.ino) == [1, 2, 3, 4, 5, 0])
        #expect(entries.allSatisfy { $0.headerOffset % 4 == 0 && $0.uid == 0 && $0.gid == 0 && $0.mtime == 0 && $0.check == 0 })
        #expect(entries[0].mode == 0o040755 && entries[0].nlink == 2)
        #expect(entries[1].mode == 0o100644 && entries[1].data == [1, 2, 3] && entries[1].nlink == 1)
        #expect(entries[2].mode == 0o100755 && entries[2].data == [7, 7, 7, 7])
        #expect(entries[3].mode == 0o120777 && entries[3].data == Array("busybox".utf8))
        #expect(entries[4].mode == 0o020666 && entries[4].rdevMajor == 1 && entries[4].rdevMinor == 3)
    }

    /// An independent reader: busybox's cpio applet lists the archive.
    @Test(.enabled(if: SystemTool(name: "busybox", debianPackage: "busybox-static").isAvailable))
    func busyboxCpioListsTheArchive() throws {
        var archive = NewcArchive()
        archive.directory("bin")
        archive.file("bin/x", Array("hello\n".utf8), permissions: 0o644)
        archive.symlink("bin/sh", to: "busybox")
        let directory = try temporaryDirectory("cpio")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a.cpio")
        try Data(archive.serialized()).write(to: file)
        let busybox = try SystemTool(name: "busybox", debianPackage: "busybox-static").locate()
        let listing = try Shell.run(busybox, ["sh", "-c", "busybox cpio -t < \"$1\" 2>/dev/null", "sh", file.path], captureOutput: true)
        #expect(listing.status == 0, "\(listing.output)")
        #expect(listing.output.split(separator: "\n").map(String.init) == ["bin", "bin/x", "bin/sh"])
    }
}

@Suite struct InitramfsTests {
    @Test func initramfsHasTheGuestLayout() throws {
        let script = Array("#!/bin/sh\necho hi\n".utf8)
        let busybox: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 1, 2, 3]
        let bytes = InitramfsBuilder(initScript: script, busybox: busybox).build()
        let entries = try NewcReader.read(bytes)
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(entries.count == byName.count, "no duplicate names")
        for directory in ["bin", "sbin", "proc", "sys", "dev"] {
            #expect(byName[directory]?.mode == 0o040755, "\(directory)")
        }
        let console = try #require(byName["dev/console"])
        #expect(console.mode == 0o020600 && console.rdevMajor == 5 && console.rdevMinor == 1 && console.data.isEmpty)
        #expect(byName["init"]?.mode == 0o100755 && byName["init"]?.data == script)
        #expect(byName["bin/busybox"]?.mode == 0o100755 && byName["bin/busybox"]?.data == busybox)
        for applet in ["sh", "mount", "cat", "echo", "grep", "md5sum", "sha256sum", "seq", "true", "dd", "poweroff"] {
            let link = try #require(byName["bin/\(applet)"], "bin/\(applet)")
            #expect(link.mode == 0o120777 && link.data == Array("busybox".utf8))
        }
        #expect(byName["sbin/poweroff"]?.data == Array("/bin/busybox".utf8))
        // Every parent directory comes before its entries.
        for (index, entry) in entries.enumerated() where entry.name.contains("/") {
            let parent = String(entry.name[..<entry.name.lastIndex(of: "/")!])
            #expect(entries[..<index].contains { $0.name == parent }, "\(entry.name) before \(parent)")
        }
        #expect(entries.last?.name == "TRAILER!!!")
    }

    @Test func initramfsIsDeterministic() {
        let builder = InitramfsBuilder(initScript: [1], busybox: [2])
        #expect(builder.build() == builder.build())
    }

    /// Each command the init script runs is an applet we link: the words
    /// in command position (line start, `$(`, `|`, `||`, `&&`, `;`, `{`, `*)`, after
    /// then/do/else), less shell keywords and the script's own functions.
    @Test func initScriptUsesOnlyLinkedApplets() throws {
        let script = try String(contentsOf: packageDirectory.appendingPathComponent("Guest/linux/init"), encoding: .utf8)
        let code = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        let pattern = try NSRegularExpression(
            pattern: #"(?:^|\$\(|\|\|?|&&|;|\{(?=[ \t])|\*\)|\bthen\b|\bdo\b|\belse\b)[ \t]*([a-z][a-z0-9_]*)\b(?![=(])"#,
            options: [.anchorsMatchLines])
        var commands: Set<String> = []
        for match in pattern.matches(in: code, range: NSRange(code.startIndex..., in: code)) {
            commands.insert(String(code[Range(match.range(at: 1), in: code)!]))
        }
        let keywords: Set = [
            "if", "then", "else", "fi", "while", "do", "done", "case", "esac", "export", "exec", "break",
            "read", "set", "wait",
        ]
        let functions: Set = ["say", "fail", "has"]
        let unknown = commands.subtracting(keywords).subtracting(functions).subtracting(InitramfsBuilder.applets)
        #expect(unknown.isEmpty, "commands without a busybox link: \(unknown.sorted())")
        for required in ["mount", "grep", "dd", "sha256sum", "seq", "poweroff", "uname", "echo"] {
            #expect(commands.contains(required), "\(required) (found \(commands.sorted()))")
        }
    }

    @Test func linkedAppletsExistInBusybox() throws {
        guard let installed = AptPackages().installedFile(endingIn: "/bin/busybox", of: "busybox-static") else {
            print("pxhv-test: skipping: busybox-static not installed")
            return
        }
        let list = try Shell.run(installed.path, ["--list"], captureOutput: true)
        let applets = Set(list.output.split(separator: "\n").map(String.init))
        for applet in InitramfsBuilder.applets + InitramfsBuilder.sbinApplets {
            #expect(applets.contains(applet), "busybox \(installed.version) has no \(applet)")
        }
    }
}

@Suite struct InitScriptTests {
    static let script = packageDirectory.appendingPathComponent("Guest/linux/init")

    @Test func initScriptIsValidSh() throws {
        let result = try Shell.run(URL(fileURLWithPath: "/bin/sh"), ["-n", Self.script.path], captureOutput: true)
        #expect(result.status == 0, "\(result.output)")
        #expect(FileManager.default.isExecutableFile(atPath: Self.script.path))
    }

    @Test(.enabled(if: SystemTool(name: "busybox", debianPackage: "busybox-static").isAvailable))
    func initScriptIsValidBusyboxSh() throws {
        let busybox = try SystemTool(name: "busybox", debianPackage: "busybox-static").locate()
        let result = try Shell.run(busybox, ["sh", "-n", Self.script.path], captureOutput: true)
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func initScriptPrintsTheInterfaceLines() throws {
        let script = try String(contentsOf: Self.script, encoding: .utf8)
        for line in ["say \"userspace up\"", "say \"cpu flags: hypervisor=$(has hypervisor) vmx=$(has vmx) svm=$(has svm)\"",
                     "say \"done\"", "poweroff -f", "mount -t devtmpfs devtmpfs /dev"] {
            #expect(script.contains(line), "\(line)")
        }
        #expect(script.hasPrefix("#!/bin/sh\n"))
        #expect(!script.contains("\nset -e"))
    }
}

/// A fake of the package tools: canned answers, a record of fetches.
final class FakePackages: DebianPackages {
    var depends = ["linux-image-6.1.0-99-amd64"]
    var candidate: String? = "1:1.35.0-4"
    var installed: (path: URL, version: String)?
    var fetchFails = false
    var fetched: [String] = []
    var fileBytes: [String: [UInt8]] = [:]

    func dependencies(of package: String) throws -> [String] {
        guard package == "linux-image-amd64" else { return [] }
        return depends
    }

    func candidateVersion(of package: String) throws -> String {
        guard let candidate else { throw ToolError("apt-cache policy \(package) shows no candidate version: run apt-get update") }
        return candidate
    }

    func installedFile(endingIn suffix: String, of package: String) -> (path: URL, version: String)? { installed }

    func fetch(package: String, fileEndingIn suffix: String, to destination: URL, hint: String) throws {
        fetched.append(package)
        if fetchFails { throw ToolError("apt-get download \(package) failed (E: Unable to locate package): \(hint)") }
        try Data(fileBytes[suffix] ?? []).write(to: destination)
    }
}

@Suite struct LinuxGuestSourceTests {
    @Test func givenKernelIsUsedAsIs() throws {
        let directory = try temporaryDirectory("kernel")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = directory.appendingPathComponent("bzImage")
        try Data(fakeBzImage()).write(to: kernel)
        let fake = FakePackages()
        let source = LinuxGuestSource(packageDirectory: packageDirectory, outputDirectory: directory, kernelPath: kernel, packages: fake)
        #expect(try source.kernelBytes() == fakeBzImage())
        #expect(fake.fetched.isEmpty)
    }

    @Test func givenKernelMustBeABzImage() throws {
        let directory = try temporaryDirectory("kernel")
        defer { try? FileManager.default.removeItem(at: directory) }
        let notKernel = directory.appendingPathComponent("vmlinux")
        try Data([UInt8](repeating: 0, count: 0x1000)).write(to: notKernel)
        for path in [notKernel, directory.appendingPathComponent("missing")] {
            let source = LinuxGuestSource(packageDirectory: packageDirectory, outputDirectory: directory, kernelPath: path, packages: FakePackages())
            #expect(throws: ToolError.self) { try source.kernelBytes() }
        }
    }

    @Test func debianKernelIsFetchedOnceIntoTheCache() throws {
        let directory = try temporaryDirectory("cache")
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakePackages()
        fake.fileBytes["/boot/vmlinuz-6.1.0-99-amd64"] = fakeBzImage(size: 0x2000)
        let source = LinuxGuestSource(packageDirectory: packageDirectory, outputDirectory: directory, packages: fake)
        #expect(try source.kernelBytes().count == 0x2000)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("cache/vmlinuz-6.1.0-99-amd64").path))
        #expect(try source.kernelBytes().count == 0x2000)
        #expect(fake.fetched == ["linux-image-6.1.0-99-amd64"], "the second call uses the cache")
    }

    @Test func fetchFailureNamesThePackageAndTheRemedy() throws {
        let directory = try temporaryDirectory("fail")
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakePackages()
        fake.fetchFails = true
        let source = LinuxGuestSource(packageDirectory: packageDirectory, outputDirectory: directory, packages: fake)
        do {
            _ = try source.kernelBytes()
            Issue.record("a failed download must throw")
        } catch let error as ToolError {
            #expect(error.message.contains("linux-image-6.1.0-99-amd64"))
            #expect(error.message.contains("apt-get update") && error.message.contains("--kernel PATH"))
            #expect(!error.message.contains("\n"))
        }
        fake.depends = ["linux-base", "initramfs-tools"]
        #expect(throws: ToolError.self) { try source.kernelPackage() }
    }

    @Test func busyboxComesFromTheInstalledPackageElseTheCache() throws {
        let directory = try temporaryDirectory("busybox")
        defer { try? FileManager.default.removeItem(at: directory) }
        let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 9, 9]
        let installedPath = directory.appendingPathComponent("installed-busybox")
        try Data(elf + [1]).write(to: installedPath)
        let fake = FakePackages()
        fake.installed = (installedPath, "1:1.35.0-4+deb12u1")
        fake.fileBytes["/bin/busybox"] = elf
        let source = LinuxGuestSource(packageDirectory: packageDirectory, outputDirectory: directory, packages: fake)
        #expect(try source.busyboxBytes() == elf + [1])
        #expect(fake.fetched.isEmpty)
        fake.installed = nil
        #expect(try source.busyboxBytes() == elf)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("cache/busybox-1:1.35.0-4").path))
        #expect(fake.fetched == ["busybox-static"])
        fake.candidate = nil
        try? FileManager.default.removeItem(at: directory.appendingPathComponent("cache"))
        #expect(throws: ToolError.self) { try source.busyboxBytes() }
    }

    @Test func linuxGuestBlobsAreKernelInitrdCommandLine() throws {
        let directory = try temporaryDirectory("blobs")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = directory.appendingPathComponent("bzImage")
        let initrd = directory.appendingPathComponent("initrd.img")
        try Data(fakeBzImage()).write(to: kernel)
        try Data([1, 2, 3, 4, 5]).write(to: initrd)
        var options = ImageOptions(packageDirectory: packageDirectory, outputDirectory: directory)
        options.guest = .linux
        options.kernel = kernel
        options.initrd = initrd
        options.commandLine = "console=ttyS0 quiet"
        let blobs = try ImageBuilder(options: options).guestBlobs()
        #expect(blobs.map(\.kind) == [.linuxKernel, .initrd, .commandLine])
        #expect(blobs[0].bytes == fakeBzImage())
        #expect(blobs[1].bytes == [1, 2, 3, 4, 5])
        #expect(blobs[2].bytes == Array("console=ttyS0 quiet".utf8) + [0])
    }

    @Test func builtInitramfsUsesTheInitScriptAndBusybox() throws {
        let directory = try temporaryDirectory("initrd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let busybox = directory.appendingPathComponent("busybox")
        try Data([0x7F, 0x45, 0x4C, 0x46, 0]).write(to: busybox)
        let fake = FakePackages()
        fake.installed = (busybox, "1")
        let source = LinuxGuestSource(packageDirectory: packageDirectory, outputDirectory: directory, packages: fake)
        let bytes = try source.initrdBytes()
        let entries = try NewcReader.read(bytes)
        let script = try Data(contentsOf: packageDirectory.appendingPathComponent("Guest/linux/init"))
        #expect(entries.first { $0.name == "init" }?.data == [UInt8](script))
        #expect(entries.first { $0.name == "bin/busybox" }?.data == [0x7F, 0x45, 0x4C, 0x46, 0])
        #expect(try Data(contentsOf: source.builtInitrd) == Data(bytes))
    }

    @Test func commandLineDefaultAndLimits() throws {
        let directory = URL(fileURLWithPath: "/nonexistent")
        var source = LinuxGuestSource(packageDirectory: directory, outputDirectory: directory, packages: FakePackages())
        #expect(try source.resolvedCommandLine() == "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 rdinit=/init")
        source.commandLine = String(repeating: "x", count: 2047)
        #expect(try source.resolvedCommandLine().count == 2047)
        source.commandLine = String(repeating: "x", count: 2048)
        #expect(throws: ToolError.self) { try source.resolvedCommandLine() }
        source.commandLine = "a\u{0}b"
        #expect(throws: ToolError.self) { try source.resolvedCommandLine() }
    }

    @Test func aptOutputParsing() {
        let depends = """
            linux-image-amd64
              Depends: linux-image-6.1.0-56-amd64
             |Depends: linux-image-6.1.0-55-amd64
            """
        #expect(AptPackages.parseDepends(depends) == ["linux-image-6.1.0-56-amd64", "linux-image-6.1.0-55-amd64"])
        let policy = """
            busybox-static:
              Installed: (none)
              Candidate: 1:1.35.0-4+deb12u1+b1
              Version table:
            """
        #expect(AptPackages.parseCandidate(policy) == "1:1.35.0-4+deb12u1+b1")
        #expect(AptPackages.parseCandidate("x:\n  Installed: (none)\n  Candidate: (none)\n") == nil)
        #expect(AptPackages.lastLine("W: a\nE: Unable to locate package x\n\n") == "E: Unable to locate package x")
    }
}

@Suite struct LinuxGuestOptionTests {
    @Test func kernelInitrdCmdlineOptions() throws {
        var parser = ArgumentParser(["build-image", "--kernel", "/k/bzImage", "--cmdline", "console=ttyS0 quiet", "--initrd", "/i/initrd"])
        var options = ImageOptions(packageDirectory: URL(fileURLWithPath: "/p"))
        options.parseLinuxGuestOptions(&parser)
        #expect(options.guest == .linux)
        #expect(options.kernel?.path == "/k/bzImage")
        #expect(options.initrd?.path == "/i/initrd")
        #expect(options.commandLine == "console=ttyS0 quiet")
        #expect(parser.remaining == ["build-image"])
    }

    @Test func linuxIsTheCommandLineDefaultAndNamed() throws {
        var parser = ArgumentParser(["build-image"])
        var options = ImageOptions(packageDirectory: URL(fileURLWithPath: "/p"))
        options.parseLinuxGuestOptions(&parser)
        #expect(options.guest == .linux && options.kernel == nil && options.initrd == nil && options.commandLine == nil)
        #expect(GuestChoice(rawValue: "linux") == .linux)
        #expect(ToolCommand.usage.contains("--kernel PATH") && ToolCommand.usage.contains("--initrd PATH")
                && ToolCommand.usage.contains("--cmdline STR") && ToolCommand.usage.contains(LinuxGuestSource.defaultCommandLine))
    }
}

/// The real guest without the hypervisor: fetch Debian's kernel and
/// busybox-static (apt), build the initramfs, boot both natively in QEMU
/// (TCG) and read the init script's lines on the serial port. Opt-in
/// (network, ~71 MB download once): PXHV_LINUX_GUEST_TEST=1.
@Suite struct LinuxGuestBootTests {
    static let enabled = ProcessInfo.processInfo.environment["PXHV_LINUX_GUEST_TEST"] == "1"

    @Test(.enabled(if: enabled), .timeLimit(.minutes(5)))
    func debianKernelBootsTheInitramfsInQEMU() throws {
        let output = packageDirectory.appendingPathComponent(".build/pxhv-linux-guest-test", isDirectory: true)
        let source = LinuxGuestSource(packageDirectory: packageDirectory, outputDirectory: output)
        let guest = try source.load()
        let kernel = output.appendingPathComponent("bzImage")
        try Data(guest.kernel).write(to: kernel)
        let serial = output.appendingPathComponent("serial.log")
        try? FileManager.default.removeItem(at: serial)
        let qemu = try SystemTool.qemu.locate()
        let started = Date()
        let result = try Shell.run(
            URL(fileURLWithPath: "/usr/bin/timeout"),
            ["120", qemu.path, "-M", "pc", "-accel", "tcg", "-m", "256", "-display", "none", "-monitor", "none",
             "-no-reboot", "-serial", "file:\(serial.path)", "-kernel", kernel.path,
             "-initrd", source.builtInitrd.path, "-append", guest.commandLine],
            captureOutput: true)
        let log = (try? String(contentsOf: serial, encoding: .utf8)) ?? ""
        let lines = log.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("pxhv-guest:") }
        print("pxhv-test: qemu exit \(result.status) after \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        for line in lines { print("pxhv-test: \(line)") }
        #expect(result.status == 0, "qemu: \(result.output)\nserial:\n\(log)")
        for expected in ["pxhv-guest: userspace up", "pxhv-guest: cpu flags: hypervisor=",
                         "pxhv-guest: workload: sha256 of zeros ok (4194304 bytes)",
                         "pxhv-guest: workload: sha256 of seq ok (588895 bytes)",
                         "pxhv-guest: workload: fork/exec ok (20)", "pxhv-guest: done"] {
            #expect(lines.contains { $0.hasPrefix(expected) }, "\(expected)\nserial:\n\(log)")
        }
        #expect(!lines.contains { $0.hasPrefix("pxhv-guest: error") }, "serial:\n\(log)")
    }

    /// The download path of busybox-static (used when it is not installed).
    @Test(.enabled(if: enabled))
    func busyboxStaticIsFetchedWithApt() throws {
        let output = try temporaryDirectory("busybox-fetch")
        defer { try? FileManager.default.removeItem(at: output) }
        let destination = output.appendingPathComponent("busybox")
        let started = Date()
        try AptPackages().fetch(package: "busybox-static", fileEndingIn: "/bin/busybox", to: destination, hint: "test")
        let bytes = try Data(contentsOf: destination)
        print("pxhv-test: busybox-static fetched in \(String(format: "%.1f", Date().timeIntervalSince(started))) s, \(bytes.count) bytes")
        #expect(bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: output.path) == ["busybox"], "the scratch directory is gone")
        #expect(throws: ToolError.self) {
            try AptPackages().fetch(package: "pxhv-no-such-package", fileEndingIn: "/x", to: destination, hint: "test")
        }
    }
}
