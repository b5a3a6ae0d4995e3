import EPT
import Foundation
import Loader

extension ImageBuilder {
    /// `--guest multiboot`: the kernel given with `--kernel` (else the
    /// built-in test kernel, Guest/multiboot/mbtest.asm linked as ELF32),
    /// its modules (`--module PATH[=STRING]`, in order) and command line
    /// (`--cmdline`, else empty).
    ///
    /// Payload entries: `.multibootKernel`, `.commandLine` (NUL-terminated),
    /// then per module `.multibootModule` and its `.multibootModuleString`
    /// (NUL-terminated), which the hypervisor pairs by order.
    ///
    /// Everything is read and checked before anything is written: a file
    /// that cannot be read, has no valid Multiboot header or loads where no
    /// guest may (below 1 MiB, over the hypervisor's memory at the payload
    /// base 0x200000, above 4 GiB) is refused with one line naming it.
    func multibootGuestBlobs() throws -> [PayloadBuilder.Blob] {
        let kernelPath: URL
        if let given = options.kernel {
            kernelPath = given
        } else {
            kernelPath = try MultibootTestKernel.build(
                .elf, package: options.packageDirectory, output: options.outputDirectory)
        }
        let origin = options.kernel == nil ? "the built-in test kernel" : "--kernel"
        let kernel = try Self.readFile(kernelPath, what: "kernel", origin: origin, mayBeEmpty: false)
        let image = try Self.parseMultiboot(kernel, path: kernelPath, origin: origin)

        var blobs = [PayloadBuilder.Blob(kind: .multibootKernel, bytes: kernel)]
        let commandLine = options.commandLine ?? ""
        guard !commandLine.utf8.contains(0) else { throw ToolError("--cmdline: contains a NUL byte") }
        blobs.append(PayloadBuilder.Blob(kind: .commandLine, bytes: Array(commandLine.utf8) + [0]))
        guard options.multibootModules.count <= MultibootPlan.maximumModules else {
            throw ToolError("--module: \(options.multibootModules.count) modules, at most \(MultibootPlan.maximumModules)")
        }
        for module in options.multibootModules {
            let bytes = try Self.readFile(module.path, what: "module", origin: "--module", mayBeEmpty: true)
            guard !module.string.utf8.contains(0) else {
                throw ToolError("module \(module.path.path) (--module): its string contains a NUL byte")
            }
            blobs.append(PayloadBuilder.Blob(kind: .multibootModule, bytes: bytes))
            blobs.append(PayloadBuilder.Blob(kind: .multibootModuleString, bytes: Array(module.string.utf8) + [0]))
        }

        // The hypervisor's memory starts at the payload base and holds at
        // least the manifest page and these blobs (its own image and the
        // page pool follow; where the pool ends is known at boot, where the
        // hypervisor checks again).
        var payloadEnd = BootLayout.payloadBase + PayloadBuilder.alignment
        for blob in blobs { payloadEnd += (blob.memorySize + PayloadBuilder.alignment - 1) & ~(PayloadBuilder.alignment - 1) }
        do {
            try image.checkPlacement(hypervisor: PhysicalRange(start: BootLayout.payloadBase, end: payloadEnd))
        } catch {
            throw ToolError("kernel \(kernelPath.path) (\(origin)): \(error.message.description)")
        }
        progress("guest: multiboot kernel \(kernelPath.path) (\(kernel.count) bytes, \(image.flags.contains(.addressFields) ? "a.out kludge" : "ELF32"), entry 0x\(String(image.entryPoint, radix: 16))), \(options.multibootModules.count) modules, cmdline \"\(commandLine)\"")
        return blobs
    }

    /// The bytes of `url`, or one line saying why not.
    static func readFile(_ url: URL, what: String, origin: String, mayBeEmpty: Bool) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ToolError("\(what) \(url.path) (\(origin)): cannot read it")
        }
        guard mayBeEmpty || !data.isEmpty else { throw ToolError("\(what) \(url.path) (\(origin)): the file is empty") }
        guard UInt64(data.count) < MultibootImage.addressLimit else {
            throw ToolError("\(what) \(url.path) (\(origin)): \(data.count) bytes do not fit below 4 GiB")
        }
        return [UInt8](data)
    }
}

extension ImageBuilder {
    /// The header and load addresses of `bytes`, or one line naming the file
    /// and what is wrong (with the header's file offset where there is one).
    static func parseMultiboot(_ bytes: [UInt8], path: URL, origin: String) throws -> MultibootImage {
        let result: Result<MultibootImage, MultibootError> = bytes.withUnsafeBytes { raw in
            do throws(MultibootError) { return .success(try MultibootImage(parsing: raw)) } catch { return .failure(error) }
        }
        switch result {
        case .success(let image): return image
        case .failure(let error): throw ToolError("kernel \(path.path) (\(origin)): \(error.message.description)")
        }
    }
}

extension ImageOptions {
    /// `--module` is the Multiboot guest's, `--initrd` the Linux guest's.
    func checkMultibootOptions() throws {
        if !multibootModules.isEmpty && guest != .multiboot {
            throw ToolError("--module is for --guest multiboot (the guest is \(guest.rawValue))")
        }
        if guest == .multiboot && initrd != nil {
            throw ToolError("--initrd is for --guest linux: a Multiboot kernel takes --module PATH[=STRING]")
        }
    }

    /// `--module PATH[=STRING]`: the module's file and its string (the
    /// text after the first `=`; without one, the path as given, as GRUB
    /// passes a module's command line starting with its file name).
    static func parseModule(_ argument: String) throws -> (path: URL, string: String) {
        let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        guard !path.isEmpty else { throw ToolError("--module \(argument): no file before '='") }
        return (URL(fileURLWithPath: path), parts.count == 2 ? String(parts[1]) : path)
    }
}

/// The Multiboot test kernel (Guest/multiboot/mbtest.asm), assembled as
/// ELF32 (nasm -f elf32, ld.lld -m elf_i386) or as a flat binary with the
/// a.out kludge (nasm -f bin -DAOUT): the same checks through both load
/// paths of the hypervisor.
public enum MultibootTestKernel {
    public enum Format: String, Sendable { case elf, aout }

    public static let source = "Guest/multiboot/mbtest.asm"
    public static let linkerScript = "Guest/multiboot/mbtest.ld"
    public static let defaultBase: UInt32 = 0x10_0000

    /// Assembles (and for ELF links) the kernel to load at `base`; returns
    /// the file, `<output>/mbtest-<format>-<base>.{elf,bin}`.
    public static func build(_ format: Format, base: UInt32 = defaultBase, package: URL, output: URL) throws -> URL {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let nasm = try SystemTool.nasm.locate()
        let sourceURL = package.appendingPathComponent(source)
        let includes = ["-I", sourceURL.deletingLastPathComponent().path + "/",
                        "-I", ImageBuilder.guestIncludeDirectory(package: package)]
        let name = "mbtest-\(format.rawValue)-\(String(base, radix: 16))"
        let baseDefine = "-DMBTEST_BASE=0x\(String(base, radix: 16))"
        progress("assemble: \(source) (\(format == .elf ? "ELF32, ld.lld" : "a.out kludge") at 0x\(String(base, radix: 16)))")
        switch format {
        case .aout:
            let binary = output.appendingPathComponent("\(name).bin")
            try Shell.check(nasm, ["-f", "bin", "-DAOUT", baseDefine] + includes + ["-o", binary.path, sourceURL.path])
            return binary
        case .elf:
            let object = output.appendingPathComponent("\(name).o")
            let elf = output.appendingPathComponent("\(name).elf")
            try Shell.check(nasm, ["-f", "elf32"] + includes + ["-o", object.path, sourceURL.path])
            try Shell.check(
                try SystemTool.lld.locate(),
                ["-m", "elf_i386", "-T", package.appendingPathComponent(linkerScript).path,
                 "--defsym=MBTEST_BASE=0x\(String(base, radix: 16))", "-o", elf.path, object.path])
            return elf
        }
    }

    /// A module string the test kernel checks: `name size=<bytes>
    /// fnv=0x<FNV-1a of the bytes>`.
    public static func moduleString(_ name: String, for bytes: [UInt8]) -> String {
        "\(name) size=\(bytes.count) fnv=0x\(String(fnv1a(bytes), radix: 16))"
    }

    /// FNV-1a, 32-bit (offset basis 0x811C9DC5, prime 0x01000193).
    public static func fnv1a(_ bytes: [UInt8]) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in bytes { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }
}
