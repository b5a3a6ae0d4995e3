import Foundation
import Loader
import Testing
@testable import PXHVToolKit

/// Test data and tools for the FreeDOS floppy: the FreeDOS 1.3 boot floppy
/// beside the project (`../shared/guests/freedos`, never committed: see its
/// README; `SharedGuestData` finds it), Debian's mtools and nasm. Missing, the tests say why and skip,
/// unless PXHV_REQUIRE_E2E=1 (CI), where they fail.
enum FreeDOSTestData {
    static let image = SharedGuestData.file("freedos/freedos-1.3-boot.img", package: packageDirectory)
    static let tools = [MTools().minfo, MTools().mdir, MTools().mformat, MTools().mcopy, SystemTool.nasm]
    static var required: Bool { ProcessInfo.processInfo.environment["PXHV_REQUIRE_E2E"] == "1" }

    /// True when the tools (and, with `image`, the FreeDOS image) are there;
    /// else prints why, and records a failure when required.
    static func available(image needsImage: Bool, _ test: String) -> Bool {
        var missing = tools.filter { !$0.isAvailable }.map { "\($0.name) (Debian package \($0.debianPackage))" }
        if needsImage && !FileManager.default.fileExists(atPath: image.path) { missing.append("the FreeDOS image \(image.path)") }
        guard !missing.isEmpty else { return true }
        if required {
            Issue.record("\(test): missing \(missing.joined(separator: ", ")) and PXHV_REQUIRE_E2E=1")
        } else {
            print("pxhv-test: skipping \(test): missing \(missing.joined(separator: ", ")); set PXHV_REQUIRE_E2E=1 to fail instead")
        }
        return false
    }

    static func mtool(_ tool: SystemTool, _ arguments: [String]) throws -> String {
        let result = try Shell.run(try tool.locate(), arguments, captureOutput: true)
        guard result.status == 0 else { throw ToolError("\(tool.name) \(arguments.joined(separator: " ")): \(result.output)") }
        return result.output
    }

    /// A file out of a FAT image, read with mcopy (not with the builder's code).
    static func read(_ path: String, from image: URL, work: URL) throws -> [UInt8] {
        let local = work.appendingPathComponent("read-\(UUID().uuidString)")
        _ = try mtool(MTools().mcopy, ["-n", "-i", image.path, path, local.path])
        defer { try? FileManager.default.removeItem(at: local) }
        return [UInt8](try Data(contentsOf: local))
    }

    /// A fresh 1.44 MB FAT12 image made by mformat, with `files` (path ->
    /// bytes) copied in, directories made as needed.
    static func syntheticImage(_ files: [String: [UInt8]], in directory: URL) throws -> URL {
        let image = directory.appendingPathComponent("synthetic-\(UUID().uuidString).img")
        _ = try mtool(MTools().mformat, ["-i", image.path, "-C", "-f", "1440", "::"])
        let mmd = SystemTool(name: "mmd", debianPackage: "mtools")
        var made: Set<String> = []
        for (path, bytes) in files.sorted(by: { $0.key < $1.key }) {
            var directoryPath = ""
            for component in path.split(separator: "/").dropLast() {
                directoryPath += "/" + component
                if made.insert(directoryPath).inserted { _ = try mtool(mmd, ["-i", image.path, "::" + directoryPath]) }
            }
            let local = directory.appendingPathComponent("file-\(UUID().uuidString)")
            try Data(bytes).write(to: local)
            _ = try mtool(MTools().mcopy, ["-i", image.path, local.path, "::/" + path])
        }
        return image
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pxhv-freedos-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The one-line error building from `image` gives (nil: it built).
    static func buildError(_ image: URL, powerOff: FreeDOSPowerOff = .hypercall, tools: MTools = MTools()) -> String? {
        do {
            _ = try FreeDOSFloppy.build(freeDOS: image, package: packageDirectory, powerOff: powerOff, tools: tools)
            return nil
        } catch let error as ToolError {
            return error.message
        } catch {
            return "\(error)"
        }
    }
}

/// Where two images first differ ("sizes" when only the sizes do), nil
/// when equal: a failure names an offset instead of printing megabytes.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String? {
    if let offset = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        return "offset 0x\(String(offset, radix: 16)): 0x\(String(a[offset], radix: 16)) vs 0x\(String(b[offset], radix: 16))"
    }
    return a.count == b.count ? nil : "sizes \(a.count) vs \(b.count)"
}

@Test(arguments: FreeDOSPowerOff.allCases)
func theFloppyFromFreeDOS13HasItsFilesAndBoots(powerOff: FreeDOSPowerOff) throws {
    guard FreeDOSTestData.available(image: true, "the FreeDOS floppy build") else { return }
    let source = FreeDOSTestData.image
    let work = try FreeDOSTestData.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: work) }
    var options = ImageOptions(packageDirectory: packageDirectory, outputDirectory: work.appendingPathComponent("out"))
    options.guest = .freedos
    options.freeDOSImage = source
    options.freeDOSPowerOff = powerOff
    let blobs = try ImageBuilder(options: options).guestBlobs()
    #expect(blobs.count == 1)
    #expect(blobs[0].kind == .diskImage && blobs[0].flags == 0x00, "a floppy: BIOS drive 0x00")
    let floppy = options.outputDirectory.appendingPathComponent(ImageBuilder.freeDOSFloppyName)
    let bytes = [UInt8](try Data(contentsOf: floppy))
    #expect(firstDifference(bytes, blobs[0].bytes) == nil)
    #expect(bytes.count == 1_474_560)
    #expect(bytes[510] == 0x55 && bytes[511] == 0xAA)

    // The boot sector's code is FreeDOS's (the BPB, 0x0B-0x3D, is mformat's).
    let original = [UInt8](try Data(contentsOf: source))
    #expect(firstDifference(Array(bytes[0x3E..<0x200]), Array(original[0x3E..<0x200])) == nil)

    // What the floppy holds, read back with mtools.
    let listing = try FreeDOSTestData.mtool(MTools().mdir, ["-i", floppy.path, "-/", "-b", "::/"])
    let names = Set(listing.split(whereSeparator: \.isNewline).map { $0.uppercased() })
    for name in ["KERNEL.SYS", "COMMAND.COM", "FDAPM.COM", "PXHVCHK.COM", "FDCONFIG.SYS", "AUTOEXEC.BAT"] {
        #expect(names.contains("::/" + name), "\(name) missing: \(listing)")
    }
    #expect(names.count == 6, "only pxHV's selection: \(listing)")

    func onFloppy(_ name: String) throws -> [UInt8] { try FreeDOSTestData.read("::/" + name, from: floppy, work: work) }
    func inSource(_ path: String) throws -> [UInt8] { try FreeDOSTestData.read(path, from: source, work: work) }
    #expect(firstDifference(try onFloppy("COMMAND.COM"), try inSource("::/FREEDOS/BIN/COMMAND.COM")) == nil)
    #expect(firstDifference(try onFloppy("FDAPM.COM"), try inSource("::/FREEDOS/BIN/FDAPM.COM")) == nil)
    // The kernel: FreeDOS's, with SkipConfigSeconds (byte 12, 2 in 1.3) now 0.
    let kernel = try onFloppy("KERNEL.SYS"), originalKernel = try inSource("::/KERNEL.SYS")
    #expect(kernel.count == originalKernel.count)
    #expect(originalKernel[12] == 2 && kernel[12] == 0)
    var unpatched = kernel
    unpatched[12] = originalKernel[12]
    #expect(firstDifference(unpatched, originalKernel) == nil, "only byte 12 differs")

    // pxHV's files, in DOS text.
    let config = String(decoding: try onFloppy("FDCONFIG.SYS"), as: UTF8.self)
    #expect(config.contains("SHELL=A:\\COMMAND.COM"))
    // No memory manager: EMM386 would run DOS in V86 mode (CPL 3), where hypercalls are refused.
    let directives = config.components(separatedBy: "\r\n").filter { !$0.hasPrefix(";") }.map { $0.uppercased() }
    #expect(!directives.contains { $0.contains("EMM386") || $0.contains("HIMEM") }, "\(directives)")
    let autoexec = String(decoding: try onFloppy("AUTOEXEC.BAT"), as: UTF8.self)
    #expect(!autoexec.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CR LF line ends only")
    let lines = autoexec.components(separatedBy: "\r\n")
    #expect(lines.contains("CTTY AUX"))
    #expect(lines.contains(powerOff == .fdapm ? "A:\\PXHVCHK.COM /KEEP" : "A:\\PXHVCHK.COM"))
    #expect(lines.contains("IF EXIST A:\\FDAPM.COM A:\\FDAPM.COM PUREOFF"))
    let program = try onFloppy("PXHVCHK.COM")
    #expect(program.count > 1000 && program.count < 0xFE00, "a .COM: one 64 KiB segment with its PSP")
}

@Test func theSameFreeDOSImageMakesTheSameFloppy() throws {
    guard FreeDOSTestData.available(image: true, "the FreeDOS floppy's reproducibility") else { return }
    let first = try FreeDOSFloppy.build(freeDOS: FreeDOSTestData.image, package: packageDirectory, powerOff: .hypercall)
    Thread.sleep(forTimeInterval: 2.1)  // a date taken from the clock would differ (FAT: 2 s steps)
    let second = try FreeDOSFloppy.build(freeDOS: FreeDOSTestData.image, package: packageDirectory, powerOff: .hypercall)
    #expect(firstDifference(first.image, second.image) == nil)
    let fdapm = try FreeDOSFloppy.build(freeDOS: FreeDOSTestData.image, package: packageDirectory, powerOff: .fdapm)
    #expect(firstDifference(fdapm.image, first.image) != nil, "AUTOEXEC.BAT differs")
}

@Test func aMissingKernelOrShellIsOneLineAndWritesNothing() throws {
    guard FreeDOSTestData.available(image: false, "the FreeDOS error cases") else { return }
    let work = try FreeDOSTestData.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: work) }
    let shell = [UInt8](repeating: 0x90, count: 3000)
    let kernel = [UInt8](repeating: 0xEB, count: 2000)

    let noKernel = try FreeDOSTestData.syntheticImage(["FREEDOS/BIN/COMMAND.COM": shell, "FREEDOS/BIN/KERNEL.SYS": kernel], in: work)
    #expect(FreeDOSTestData.buildError(noKernel) ==
        "\(noKernel.path): no KERNEL.SYS in the root directory (the FreeDOS kernel, which its boot sector loads from there)")

    let noShell = try FreeDOSTestData.syntheticImage(["KERNEL.SYS": kernel, "FREEDOS/BIN/SHELL.COM": shell], in: work)
    #expect(FreeDOSTestData.buildError(noShell) ==
        "\(noShell.path): no COMMAND.COM (looked in \\, \\FREEDOS\\BIN, \\FDOS\\BIN and every other directory)")

    let noFDAPM = try FreeDOSTestData.syntheticImage(["KERNEL.SYS": kernel, "COMMAND.COM": shell], in: work)
    #expect(FreeDOSTestData.buildError(noFDAPM, powerOff: .fdapm) ==
        "\(noFDAPM.path): no FDAPM.COM: --freedos-poweroff fdapm runs FreeDOS's FDAPM PUREOFF")

    // Through ImageBuilder: nothing lands in the output directory.
    var options = ImageOptions(packageDirectory: packageDirectory, outputDirectory: work.appendingPathComponent("out"))
    options.guest = .freedos
    options.freeDOSImage = noShell
    #expect(throws: ToolError.self) { try ImageBuilder(options: options).guestBlobs() }
    #expect(!FileManager.default.fileExists(atPath: options.outputDirectory.path))
}

@Test func notAFAT12ImageOrAMissingToolIsOneLine() throws {
    guard FreeDOSTestData.available(image: false, "the FreeDOS error cases") else { return }
    let work = try FreeDOSTestData.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: work) }

    let zeros = work.appendingPathComponent("zeros.img")
    try Data(count: 1_474_560).write(to: zeros)
    let message = FreeDOSTestData.buildError(zeros) ?? ""
    #expect(message.hasPrefix("\(zeros.path): not a FAT image mtools can read (minfo: "), "\(message)")
    #expect(message.hasSuffix(")") && !message.contains("\n"), "\(message)")

    // FAT16 (a 32 MiB volume): mtools reads it, but its boot sector loads from FAT16.
    let fat16 = work.appendingPathComponent("fat16.img")
    _ = try FreeDOSTestData.mtool(MTools().mformat, ["-i", fat16.path, "-C", "-T", "65536", "-h", "16", "-s", "63", "::"])
    #expect(FreeDOSTestData.buildError(fat16) ==
        "\(fat16.path): not a FAT12 file system: pxHV's floppy is FAT12 and boots with this image's boot sector code, so give a FreeDOS boot floppy image")

    var tools = MTools()
    tools.mformat = SystemTool(name: "mformat-not-installed", debianPackage: "mtools")
    #expect(FreeDOSTestData.buildError(zeros, tools: tools) == "mformat-not-installed not found: install the Debian package mtools")

    // An empty FAT12 floppy: readable, and the kernel is what it lacks.
    let empty = try FreeDOSTestData.syntheticImage([:], in: work)
    #expect(FreeDOSTestData.buildError(empty)?.hasPrefix("\(empty.path): no KERNEL.SYS in the root directory") == true)

    let missing = work.appendingPathComponent("missing.img")
    #expect(FreeDOSTestData.buildError(missing)?.hasPrefix("\(missing.path): cannot read the FreeDOS image (") == true)
}

@Test func locatingPrefersTheRootThenFreeDOSBin() throws {
    let listing = """
        ::/KERNEL.SYS
        ::/freedos/
        ::/freedos/bin/
        ::/freedos/bin/command.com
        ::/fdos/bin/COMMAND.COM
        ::/tools/fdapm.com
        ::/freedos/bin/fdapm.com

        """
    let found = try FreeDOSFloppy.locate(listing: listing, image: "x.img")
    #expect(found == FreeDOSFloppy.Sources(kernel: "::/KERNEL.SYS", shell: "::/freedos/bin/command.com", fdapm: "::/freedos/bin/fdapm.com"))
    let root = try FreeDOSFloppy.locate(listing: listing + "::/COMMAND.COM\n", image: "x.img")
    #expect(root.shell == "::/COMMAND.COM")
    let elsewhere = try FreeDOSFloppy.locate(listing: "::/kernel.sys\n::/dos/command.com\n", image: "x.img")
    #expect(elsewhere == FreeDOSFloppy.Sources(kernel: "::/kernel.sys", shell: "::/dos/command.com", fdapm: nil))
    // A directory named like the file is not the file.
    #expect(throws: ToolError.self) { try FreeDOSFloppy.locate(listing: "::/KERNEL.SYS\n::/COMMAND.COM/\n", image: "x.img") }
}

@Test func theKernelPauseIsTurnedOffOnlyInAConfigBlock() {
    var kernel = [UInt8](repeating: 0, count: 64)
    kernel[0] = 0xEB
    kernel[1] = 0x1B
    kernel.replaceSubrange(2..<8, with: Array("CONFIG".utf8))
    kernel[8] = 6
    kernel[10] = 0; kernel[11] = 1; kernel[12] = 2
    let patched = FreeDOSFloppy.kernelWithoutConfigPause(kernel)
    #expect(patched?[12] == 0)
    #expect(patched.map { Array($0[..<12]) + Array($0[13...]) } == Array(kernel[..<12]) + Array(kernel[13...]))
    var noBlock = kernel
    noBlock[2] = UInt8(ascii: "X")
    #expect(FreeDOSFloppy.kernelWithoutConfigPause(noBlock) == nil)
    var tooSmall = kernel
    tooSmall[8] = 2
    #expect(FreeDOSFloppy.kernelWithoutConfigPause(tooSmall) == nil)
}

@Test func autoexecKeepsDOSRunningOnlyForFDAPM() throws {
    let template = "@ECHO OFF\nCTTY AUX\nA:\\PXHVCHK.COM\nA:\\FDAPM.COM PUREOFF\n"
    #expect(try FreeDOSFloppy.autoexec(template: template, powerOff: .hypercall) == template)
    #expect(try FreeDOSFloppy.autoexec(template: template, powerOff: .fdapm) ==
        "@ECHO OFF\nCTTY AUX\nA:\\PXHVCHK.COM /KEEP\nA:\\FDAPM.COM PUREOFF\n")
    #expect(throws: ToolError.self) { try FreeDOSFloppy.autoexec(template: "@ECHO OFF\n", powerOff: .fdapm) }
    #expect(FreeDOSFloppy.dosText("A\nB\r\nC") == Array("A\r\nB\r\nC".utf8))
}

@Test func theFATTypeComesFromTheBPB() throws {
    guard FreeDOSTestData.available(image: true, "the FAT type of the FreeDOS image") else { return }
    let boot = Array([UInt8](try Data(contentsOf: FreeDOSTestData.image)).prefix(512))
    // 1.44 MB: 2880 sectors - 1 reserved - 2 * 9 FAT - 14 root = 2847 clusters of 1 sector.
    #expect(FreeDOSFloppy.fatClusterCount(bootSector: boot) == 2847)
    #expect(FreeDOSFloppy.fatClusterCount(bootSector: [UInt8](repeating: 0, count: 512)) == nil)
}

/// Where the never-committed guest data is looked for.
@Suite struct SharedGuestDataTests {
    @Test("beside the package, then beside the local repository a clone came from")
    func lookup() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pxhv-guests-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let origin = root.appendingPathComponent("work/pxhv"), clone = root.appendingPathComponent("tmp/clone")
        let data = root.appendingPathComponent("work/shared/guests/freedos")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: clone.appendingPathComponent(".git"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: data.appendingPathComponent("f.img"))
        try """
            [core]
            \tbare = false
            [remote "origin"]
            \turl = \(origin.path)
            \tfetch = +refs/heads/*:refs/remotes/origin/*
            """.write(to: clone.appendingPathComponent(".git/config"), atomically: true, encoding: .utf8)
        // The clone has no ../shared: found beside its origin.
        #expect(SharedGuestData.file("freedos/f.img", package: clone).path == data.appendingPathComponent("f.img").standardizedFileURL.path)
        // The origin itself: beside the package.
        #expect(SharedGuestData.file("freedos/f.img", package: origin).path == data.appendingPathComponent("f.img").standardizedFileURL.path)
        // Nowhere: the first place looked (beside the package), for the message.
        #expect(SharedGuestData.file("freedos/none.img", package: clone).path
                == root.appendingPathComponent("tmp/shared/guests/freedos/none.img").standardizedFileURL.path)
    }
}
