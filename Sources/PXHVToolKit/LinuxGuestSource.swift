import Foundation
import Loader

/// The Linux guest's three payload entries, ready to pack.
public struct LinuxGuest: Sendable {
    public var kernel: [UInt8]
    public var initrd: [UInt8]
    public var commandLine: String

    /// `.linuxKernel`, `.initrd`, `.commandLine` (NUL-terminated), in that order.
    public var blobs: [PayloadBuilder.Blob] {
        [PayloadBuilder.Blob(kind: .linuxKernel, bytes: kernel),
         PayloadBuilder.Blob(kind: .initrd, bytes: initrd),
         PayloadBuilder.Blob(kind: .commandLine, bytes: Array(commandLine.utf8) + [0])]
    }
}

/// Where the Linux guest comes from. The kernel: `--kernel PATH`, else
/// Debian's kernel (the `linux-image-*` package that `linux-image-amd64`
/// depends on), fetched once into `<output>/cache/vmlinuz-<version>`. The
/// initramfs: `--initrd PATH`, else built (`InitramfsBuilder`) from
/// Guest/linux/init and Debian's busybox-static (the installed one, else
/// fetched into `<output>/cache/busybox-<version>`). The command line:
/// `--cmdline STR`, else `defaultCommandLine`.
public struct LinuxGuestSource {
    /// Serial console from the first line on (earlyprintk), reboot at once
    /// on a panic instead of hanging (`panic=-1`; the emulators run with
    /// -no-reboot / power off, so a panic ends the run), our /init.
    public static let defaultCommandLine =
        "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 rdinit=/init"
    public static let kernelMetaPackage = "linux-image-amd64"
    public static let busyboxPackage = "busybox-static"
    /// x86's COMMAND_LINE_SIZE (arch/x86/include/asm/setup.h), NUL included.
    public static let commandLineLimit = 2048

    public var packageDirectory: URL
    public var outputDirectory: URL
    public var kernelPath: URL?
    public var initrdPath: URL?
    public var commandLine: String?
    public var packages: any DebianPackages

    public init(
        packageDirectory: URL, outputDirectory: URL, kernelPath: URL? = nil, initrdPath: URL? = nil,
        commandLine: String? = nil, packages: any DebianPackages = AptPackages()
    ) {
        self.packageDirectory = packageDirectory
        self.outputDirectory = outputDirectory
        self.kernelPath = kernelPath
        self.initrdPath = initrdPath
        self.commandLine = commandLine
        self.packages = packages
    }

    public var cacheDirectory: URL { outputDirectory.appendingPathComponent("cache", isDirectory: true) }
    public var initScript: URL { packageDirectory.appendingPathComponent("Guest/linux/init") }
    /// Where the built initramfs is also written, for inspection.
    public var builtInitrd: URL { outputDirectory.appendingPathComponent("initramfs.cpio") }

    public func load() throws -> LinuxGuest {
        let kernel = try kernelBytes()
        let initrd = try initrdBytes()
        let line = try resolvedCommandLine()
        progress("guest: cmdline \"\(line)\"")
        return LinuxGuest(kernel: kernel, initrd: initrd, commandLine: line)
    }

    // MARK: The kernel

    public func kernelBytes() throws -> [UInt8] {
        if let kernelPath {
            let bytes = try Self.readBzImage(kernelPath, from: "--kernel")
            progress("guest: kernel \(kernelPath.path) (\(bytes.count) bytes, --kernel)")
            return bytes
        }
        let package = try kernelPackage()
        let version = String(package.dropFirst("linux-image-".count))
        let cached = cacheDirectory.appendingPathComponent("vmlinuz-\(version)")
        if !FileManager.default.fileExists(atPath: cached.path) {
            try fetch(package: package, fileEndingIn: "/boot/vmlinuz-\(version)", to: cached,
                      hint: "run apt-get update, or pass --kernel PATH (a bzImage)")
        }
        let bytes = try Self.readBzImage(cached, from: "the cache (delete it to fetch again)")
        progress("guest: kernel \(cached.path) (\(bytes.count) bytes, Debian \(package))")
        return bytes
    }

    /// The `linux-image-<abi>-amd64` that `linux-image-amd64` depends on.
    public func kernelPackage() throws -> String {
        let dependencies: [String]
        do {
            dependencies = try packages.dependencies(of: Self.kernelMetaPackage)
        } catch let error as ToolError {
            throw ToolError("\(error.message), or pass --kernel PATH")
        }
        guard let package = dependencies.first(where: { $0.hasPrefix("linux-image-") && $0 != Self.kernelMetaPackage }) else {
            throw ToolError("\(Self.kernelMetaPackage) depends on no linux-image-* package (apt-cache depends): run apt-get update, or pass --kernel PATH")
        }
        return package
    }

    /// A bzImage has "HdrS" at 0x202 (the boot protocol's setup header).
    static func readBzImage(_ url: URL, from origin: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ToolError("kernel \(url.path) (\(origin)): cannot read it")
        }
        let bytes = [UInt8](data)
        guard bytes.count > 0x206, Array(bytes[0x202..<0x206]) == Array("HdrS".utf8) else {
            throw ToolError("kernel \(url.path) (\(origin)): not a bzImage (no \"HdrS\" at 0x202)")
        }
        return bytes
    }

    // MARK: The initramfs

    public func initrdBytes() throws -> [UInt8] {
        if let initrdPath {
            guard let data = FileManager.default.contents(atPath: initrdPath.path), !data.isEmpty else {
                throw ToolError("initrd \(initrdPath.path) (--initrd): cannot read it, or it is empty")
            }
            progress("guest: initrd \(initrdPath.path) (\(data.count) bytes, --initrd)")
            return [UInt8](data)
        }
        guard let script = FileManager.default.contents(atPath: initScript.path) else {
            throw ToolError("\(initScript.path): cannot read the guest's init script")
        }
        let busybox = try busyboxBytes()
        let archive = InitramfsBuilder(initScript: [UInt8](script), busybox: busybox).archive()
        let bytes = archive.serialized()
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        try Data(bytes).write(to: builtInitrd)
        progress("guest: initrd \(builtInitrd.path) (\(bytes.count) bytes, newc, \(archive.entries.count) entries, uncompressed)")
        return bytes
    }

    /// Debian's static busybox: the installed package's, else the cache's.
    public func busyboxBytes() throws -> [UInt8] {
        let hint = "run apt-get update, or install busybox-static, or pass --initrd PATH"
        let path: URL
        let version: String
        if let installed = packages.installedFile(endingIn: "/bin/busybox", of: Self.busyboxPackage) {
            (path, version) = installed
        } else {
            do {
                version = try packages.candidateVersion(of: Self.busyboxPackage)
            } catch let error as ToolError {
                throw ToolError("\(error.message), or install busybox-static, or pass --initrd PATH")
            }
            path = cacheDirectory.appendingPathComponent("busybox-\(version)")
            if !FileManager.default.fileExists(atPath: path.path) {
                try fetch(package: Self.busyboxPackage, fileEndingIn: "/bin/busybox", to: path, hint: hint)
            }
        }
        guard let data = FileManager.default.contents(atPath: path.path), data.starts(with: [0x7F, 0x45, 0x4C, 0x46]) else {
            throw ToolError("busybox \(path.path): not an ELF file: \(hint)")
        }
        progress("guest: busybox \(path.path) (\(data.count) bytes, Debian \(Self.busyboxPackage) \(version))")
        return [UInt8](data)
    }

    // MARK: The command line

    public func resolvedCommandLine() throws -> String {
        let line = commandLine ?? Self.defaultCommandLine
        guard !line.utf8.contains(0) else { throw ToolError("--cmdline: contains a NUL byte") }
        guard line.utf8.count < Self.commandLineLimit else {
            throw ToolError("--cmdline: \(line.utf8.count) bytes; Linux x86 takes at most \(Self.commandLineLimit - 1)")
        }
        return line
    }

    // MARK: Fetching

    func fetch(package: String, fileEndingIn suffix: String, to destination: URL, hint: String) throws {
        try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        progress("guest: fetching \(package) (apt-get download, dpkg-deb)")
        let started = Date()
        try packages.fetch(package: package, fileEndingIn: suffix, to: destination, hint: hint)
        progress("guest: fetched \(package) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}

extension ImageBuilder {
    /// The Linux guest's source as the options say.
    func linuxGuestSource() -> LinuxGuestSource {
        LinuxGuestSource(
            packageDirectory: options.packageDirectory, outputDirectory: options.outputDirectory,
            kernelPath: options.kernel, initrdPath: options.initrd, commandLine: options.commandLine)
    }
}

extension ImageOptions {
    /// `--kernel PATH`, `--initrd PATH`, `--cmdline STR`; the guest becomes
    /// `.linux`, the default of the command line (`--guest` may change it).
    mutating func parseLinuxGuestOptions(_ parser: inout ArgumentParser) {
        guest = .linux
        kernel = parser.value("--kernel").map { URL(fileURLWithPath: $0) }
        initrd = parser.value("--initrd").map { URL(fileURLWithPath: $0) }
        commandLine = parser.value("--cmdline")
    }
}
