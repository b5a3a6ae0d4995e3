import Foundation
import Loader
import Testing
@testable import PXHVToolKit

/// `--guest multiboot` in the image builder: the CLI, the payload entries,
/// and the refusal of every bad kernel with one line naming the file.
/// The kernels are the real test kernel (Guest/multiboot/mbtest.asm, both
/// formats) and byte edits of it.
@Suite struct MultibootOptionTests {
    @Test func repeatedModulesKeepTheirOrderAndStrings() throws {
        var parser = ArgumentParser([
            "build-image", "--module", "/m/first.bin=first arg=1", "--guest", "multiboot", "--module", "/m/second.bin",
            "--kernel", "/k/kernel.elf", "--module", "/m/third.bin=a=b", "--cmdline", "modules=3",
        ])
        var options = ImageOptions(packageDirectory: URL(fileURLWithPath: "/p"))
        options.parseLinuxGuestOptions(&parser)
        let modules = try parser.values("--module").map(ImageOptions.parseModule)
        #expect(modules.map(\.path.path) == ["/m/first.bin", "/m/second.bin", "/m/third.bin"])
        // After the first '=' (which the string may contain again); none: the path.
        #expect(modules.map(\.string) == ["first arg=1", "/m/second.bin", "a=b"])
        #expect(parser.value("--guest") == "multiboot")
        #expect(options.kernel?.path == "/k/kernel.elf" && options.commandLine == "modules=3")
        #expect(parser.remaining == ["build-image"])
    }

    @Test func valuesLeavesAnOptionWithoutAValue() throws {
        var parser = ArgumentParser(["--module", "/a", "--module"])
        #expect(parser.values("--module") == ["/a"])
        #expect(throws: ToolError.self) { try parser.finish() }
        #expect(throws: ToolError.self) { try ImageOptions.parseModule("=string") }
    }

    @Test func modulesNeedTheMultibootGuestAndItTakesNoInitrd() throws {
        var options = ImageOptions(packageDirectory: URL(fileURLWithPath: "/p"))
        options.guest = .linux
        options.multibootModules = [(URL(fileURLWithPath: "/m"), "m")]
        #expect(throws: ToolError.self) { try options.checkMultibootOptions() }
        options.guest = .multiboot
        try options.checkMultibootOptions()
        options.initrd = URL(fileURLWithPath: "/i")
        #expect(throws: ToolError.self) { try options.checkMultibootOptions() }
        #expect(ToolCommand.usage.contains("--module PATH[=STRING]") && ToolCommand.usage.contains("multiboot"))
    }

    @Test func fnv1aAndTheModuleString() {
        // FNV-1a 32-bit reference values (the empty string is the offset basis).
        #expect(MultibootTestKernel.fnv1a([]) == 0x811C_9DC5)
        #expect(MultibootTestKernel.fnv1a(Array("a".utf8)) == 0xE40C_292C)
        #expect(MultibootTestKernel.fnv1a(Array("foobar".utf8)) == 0xBF9C_F968)
        #expect(MultibootTestKernel.moduleString("m0", for: Array("a".utf8)) == "m0 size=1 fnv=0xe40c292c")
    }
}

@Suite(.enabled(if: SystemTool.nasm.isAvailable && SystemTool.lld.isAvailable))
struct MultibootImageBuilderTests {
    /// A builder for `--guest multiboot` writing into a fresh directory.
    static func builder(_ directory: URL, kernel: URL?, modules: [(URL, String)] = [], commandLine: String? = nil) -> ImageBuilder {
        var options = ImageOptions(packageDirectory: packageDirectory, outputDirectory: directory.appendingPathComponent("out"))
        options.guest = .multiboot
        options.kernel = kernel
        options.multibootModules = modules.map { (path: $0.0, string: $0.1) }
        options.commandLine = commandLine
        return ImageBuilder(options: options)
    }

    @Test func bothFormatsOfTheTestKernelAreMultibootImagesAt1MiB() throws {
        let directory = try temporaryDirectory("mbtest")
        defer { try? FileManager.default.removeItem(at: directory) }
        for format in [MultibootTestKernel.Format.elf, .aout] {
            let file = try MultibootTestKernel.build(format, package: packageDirectory, output: directory)
            let bytes = [UInt8](try Data(contentsOf: file))
            let image = try bytes.withUnsafeBytes { raw throws(MultibootError) in try MultibootImage(parsing: raw) }
            #expect(image.headerOffset < MultibootImage.searchLimit)
            #expect(image.flags.contains(.addressFields) == (format == .aout), "\(format)")
            #expect(image.flags.isSuperset(of: [.pageAlignModules, .memoryInfo]))
            #expect(image.range.start == 0x10_0000 && image.range.end < 0x20_0000, "\(format): \(image.range)")
            #expect(image.range.contains(UInt64(image.entryPoint)))
            // ELF: code and data (with the bss) in their own PT_LOADs.
            if format == .elf {
                #expect(image.segments.count == 2)
                #expect(image.segments[1].memorySize > image.segments[1].fileSize)
            } else {
                #expect(image.segments.count == 1 && image.segments[0].memorySize > image.segments[0].fileSize)
            }
        }
        let high = try MultibootTestKernel.build(.aout, base: 0x40_0000, package: packageDirectory, output: directory)
        let bytes = [UInt8](try Data(contentsOf: high))
        let image = try bytes.withUnsafeBytes { raw throws(MultibootError) in try MultibootImage(parsing: raw) }
        #expect(image.range.start == 0x40_0000)
    }

    @Test func blobsAreKernelCommandLineThenEachModuleWithItsString() throws {
        let directory = try temporaryDirectory("mbblobs")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = try MultibootTestKernel.build(.elf, package: packageDirectory, output: directory)
        let first = directory.appendingPathComponent("first.bin"), second = directory.appendingPathComponent("second.bin")
        try Data([1, 2, 3]).write(to: first)
        try Data().write(to: second)  // an empty module is allowed
        let blobs = try Self.builder(directory, kernel: kernel, modules: [(first, "one two"), (second, second.path)],
                                     commandLine: "modules=2").multibootGuestBlobs()
        #expect(blobs.map(\.kind) == [.multibootKernel, .commandLine, .multibootModule, .multibootModuleString,
                                      .multibootModule, .multibootModuleString])
        #expect(blobs[0].bytes == [UInt8](try Data(contentsOf: kernel)))
        #expect(blobs[1].bytes == Array("modules=2".utf8) + [0])
        #expect(blobs[2].bytes == [1, 2, 3] && blobs[3].bytes == Array("one two".utf8) + [0])
        #expect(blobs[4].bytes.isEmpty && blobs[5].bytes == Array(second.path.utf8) + [0])
        // No --cmdline: an empty one; no --kernel: the test kernel.
        let defaults = try Self.builder(directory, kernel: nil).multibootGuestBlobs()
        #expect(defaults.map(\.kind) == [.multibootKernel, .commandLine] && defaults[1].bytes == [0])
    }

    /// One bad kernel: the message the builder must give, and that it wrote nothing.
    struct BadKernel: CustomTestStringConvertible, Sendable {
        let name: String
        let message: String
        let make: @Sendable (URL) throws -> [UInt8]
        var testDescription: String { name }
    }

    static func testKernel(_ format: MultibootTestKernel.Format, base: UInt32 = 0x10_0000, in directory: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: try MultibootTestKernel.build(format, base: base, package: packageDirectory,
                                                                   output: directory.appendingPathComponent("kernels"))))
    }

    /// The header's offset in `bytes` (the test kernel puts it in .text).
    static func headerOffset(_ bytes: [UInt8]) -> Int {
        stride(from: 0, to: 8192, by: 4).first { bytes[$0..<$0 + 4] == [0x02, 0xB0, 0xAD, 0x1B] }!
    }

    static func put(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (i * 8)) }
    }

    static func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << ($1 * 8) }
    }

    static let badKernels: [BadKernel] = [
        BadKernel(name: "no header", message: "multiboot: no header (magic 0x1badb002, 4-byte aligned) in the first 8192 bytes") { _ in
            [UInt8](repeating: 0x90, count: 0x3000)
        },
        BadKernel(name: "header past 8 KiB", message: "multiboot: no header (magic 0x1badb002, 4-byte aligned) in the first 8192 bytes") { directory in
            [UInt8](repeating: 0, count: 0x2000) + (try testKernel(.aout, in: directory))
        },
        BadKernel(name: "bad checksum", message: "multiboot: header at 0x0: magic + flags + checksum = 0x1, expected 0") { directory in
            var bytes = try testKernel(.aout, in: directory)
            bytes[8] &+= 1
            return bytes
        },
        BadKernel(name: "video mode required",
                  message: "multiboot: header requires flags 0x4 this loader does not provide (video mode or unknown)") { directory in
            var bytes = try testKernel(.aout, in: directory)
            let flags = word(bytes, 4) | 4
            put(flags, at: 4, in: &bytes)
            put(0 &- (0x1BAD_B002 &+ flags), at: 8, in: &bytes)
            return bytes
        },
        BadKernel(name: "a.out bss_end below load_end", message: "multiboot: bss_end_addr is below load_end_addr") { directory in
            var bytes = try testKernel(.aout, in: directory)
            put(word(bytes, 20) - 4, at: 24, in: &bytes)  // bss_end_addr = load_end_addr - 4
            return bytes
        },
        BadKernel(name: "a.out load_end past the file", message: "multiboot: load_end_addr lies past the end of the file") { directory in
            var bytes = try testKernel(.aout, in: directory)
            put(word(bytes, 20) + 0x1000, at: 20, in: &bytes)
            return bytes
        },
        BadKernel(name: "a.out entry outside the image", message: "multiboot: entry point 0x90000 is outside the loaded image") { directory in
            var bytes = try testKernel(.aout, in: directory)
            put(0x9_0000, at: 28, in: &bytes)
            return bytes
        },
        BadKernel(name: "ELF64", message: "multiboot: ELF image is not 32-bit little-endian") { directory in
            var bytes = try testKernel(.elf, in: directory)
            bytes[4] = 2  // EI_CLASS = ELFCLASS64
            return bytes
        },
        BadKernel(name: "ELF for x86-64", message: "multiboot: ELF image is not an i386 executable (ET_EXEC, EM_386)") { directory in
            var bytes = try testKernel(.elf, in: directory)
            bytes[18] = 0x3E  // e_machine = EM_X86_64
            return bytes
        },
        BadKernel(name: "below 1 MiB",
                  message: "multiboot: segment [0x80000, 0x8") { directory in
            try testKernel(.aout, base: 0x8_0000, in: directory)
        },
        BadKernel(name: "across the payload base",
                  message: "multiboot: segment [0x1ff000, 0x2") { directory in
            try testKernel(.aout, base: 0x1F_F000, in: directory)
        },
    ]

    @Test(arguments: badKernels)
    func badKernelsAreRefusedWithOneLineAndNothingWritten(_ bad: BadKernel) throws {
        let directory = try temporaryDirectory("mbbad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = directory.appendingPathComponent("kernel.bin")
        try Data(try bad.make(directory)).write(to: kernel)
        let builder = Self.builder(directory, kernel: kernel)
        let error = try #require(throws: ToolError.self) { try builder.multibootGuestBlobs() }
        #expect(error.message.hasPrefix("kernel \(kernel.path) (--kernel): \(bad.message)"), "\(error.message)")
        #expect(!error.message.contains("\n"))
        #expect(!FileManager.default.fileExists(atPath: builder.options.outputDirectory.path), "nothing written")
    }

    @Test func placementLinesSayWhereTheKernelMayLoad() throws {
        let directory = try temporaryDirectory("mbplace")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = directory.appendingPathComponent("kernel.bin")
        try Data(try Self.testKernel(.elf, base: 0x1F_F000, in: directory)).write(to: kernel)
        let error = try #require(throws: ToolError.self) { try Self.builder(directory, kernel: kernel).multibootGuestBlobs() }
        #expect(error.message.contains("overlaps the hypervisor's memory [0x200000, 0x2"), "\(error.message)")
        try Data(try Self.testKernel(.aout, base: 0x8_0000, in: directory)).write(to: kernel)
        let low = try #require(throws: ToolError.self) { try Self.builder(directory, kernel: kernel).multibootGuestBlobs() }
        #expect(low.message.hasSuffix("loads below 1 MiB (BIOS and boot data): link the kernel at 0x100000 or above"), "\(low.message)")
        // Above the hypervisor's memory the builder cannot judge (the pool's
        // end is known at boot): it passes here and is checked at boot.
        try Data(try Self.testKernel(.aout, base: 0x400_0000, in: directory)).write(to: kernel)
        #expect(try Self.builder(directory, kernel: kernel).multibootGuestBlobs().count == 2)
    }

    @Test func unreadableFilesAreNamed() throws {
        let directory = try temporaryDirectory("mbfiles")
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.elf")
        let error = try #require(throws: ToolError.self) { try Self.builder(directory, kernel: missing).multibootGuestBlobs() }
        #expect(error.message == "kernel \(missing.path) (--kernel): cannot read it")
        let empty = directory.appendingPathComponent("empty.elf")
        try Data().write(to: empty)
        let emptyError = try #require(throws: ToolError.self) { try Self.builder(directory, kernel: empty).multibootGuestBlobs() }
        #expect(emptyError.message == "kernel \(empty.path) (--kernel): the file is empty")
        let kernel = directory.appendingPathComponent("kernel.elf")
        try Data(try Self.testKernel(.elf, in: directory)).write(to: kernel)
        let moduleError = try #require(throws: ToolError.self) {
            try Self.builder(directory, kernel: kernel, modules: [(missing, "m")]).multibootGuestBlobs()
        }
        #expect(moduleError.message == "module \(missing.path) (--module): cannot read it")
    }
}
