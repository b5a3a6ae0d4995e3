import Foundation
import Loader

/// What goes into the payload next to the hypervisor.
public enum GuestChoice: String, CaseIterable, Sendable {
    /// The hypervisor alone: VT-x bring-up and the capability report.
    case none
    /// The built-in test guests (Guest/test): real mode, then 64-bit.
    case test
    /// Debian's kernel with the busybox initramfs (Guest/linux).
    case linux
    /// The hostile-guest suite (Guest/hostile): attacks on the hypervisor,
    /// each judged by the hypervisor on its verdict channel.
    case hostile
    /// Any BIOS-bootable floppy or MBR hard-disk image (`--disk-image`),
    /// booted in real mode at 0:7C00 on the machine's BIOS, its INT 13h
    /// served by pxHV from the payload.
    case bios
    /// A boot floppy made from the user's FreeDOS image (`--freedos`) with
    /// pxHV's config and check program (Guest/dos), booted as a BIOS guest.
    case freedos
    /// A Multiboot v1 kernel (`--kernel`, `--module`, `--cmdline`).
    case multiboot
    /// The SMP test guest (Guest/smp): starts every other CPU with
    /// INIT-SIPI-SIPI; under VT-x the APs are its vCPUs (run with `--cpus`).
    case smp
}

public struct ImageOptions: Sendable {
    public var packageDirectory: URL
    public var outputDirectory: URL
    public var guest: GuestChoice = .none
    /// Boot the Linux guest natively, without VMX: the baseline (`--direct`).
    public var direct = false
    /// Make the hypervisor fault on purpose after VMXON (panic-path test).
    public var panicTest = false
    /// Make the hypervisor overflow its stack / exhaust its heap on purpose
    /// after VMXON: both must end in a panic report, not in corruption.
    public var stackOverflowTest = false
    public var heapExhaustionTest = false
    /// The Linux guest's kernel, initramfs and command line, when not the
    /// defaults (`LinuxGuestSource`).
    public var kernel: URL?
    public var initrd: URL?
    public var commandLine: String?
    /// The SMP test guest's attack build (tests only): once every AP is up,
    /// the first AP reads hypervisor memory, which must stop the guest on
    /// every CPU (`Guest/smp/smp.asm`, `AP_ATTACK`).
    public var smpAPAttack = false
    /// The BIOS guest's disk image (`--disk-image`).
    public var diskImage: URL?
    /// The user's FreeDOS boot image (`--freedos`).
    public var freeDOSImage: URL?
    /// How the FreeDOS guest ends (`--freedos-poweroff`).
    public var freeDOSPowerOff: FreeDOSPowerOff = .hypercall
    /// The Multiboot guest's modules (`--module PATH[=STRING]`), in order.
    public var multibootModules: [(path: URL, string: String)] = []

    public init(packageDirectory: URL, outputDirectory: URL? = nil) {
        self.packageDirectory = packageDirectory
        self.outputDirectory = outputDirectory ?? Self.defaultOutput(for: packageDirectory)
    }

    /// `<package>/.build/pxhv`: beside SwiftPM's own products, ignored by git.
    public static func defaultOutput(for package: URL) -> URL {
        package.appendingPathComponent(".build/pxhv", isDirectory: true)
    }
}

/// The products of `build-image`.
public struct BuiltImage: Sendable {
    public var iso: URL
    public var rawImage: URL
    public var hypervisorELF: URL
    public var sizes: Sizes
    /// `.text` by module (`pxhv: text by module ...`).
    public var textByModule = TextByModule(modules: [], unattributed: 0, total: 0)

    public struct Sizes: Sendable {
        public var stage1, stage2, text, rodata, data, bss: UInt64
        public var payload, image, iso: UInt64

        /// The interface line: `pxhv: sizes stage1=... bss=...`.
        public var line: String {
            "sizes stage1=\(stage1) stage2=\(stage2) text=\(text) rodata=\(rodata) data=\(data) bss=\(bss)"
        }
    }
}

/// Builds the boot image: the embedded hypervisor, linked flat; the NASM
/// stages; the payload with its manifest; the raw disk image; the ISO.
public struct ImageBuilder {
    public var options: ImageOptions

    public init(options: ImageOptions) { self.options = options }

    /// Bochs derives a flat disk's geometry from its size with 16 heads and
    /// 63 sectors per track, so the raw image is padded to whole cylinders.
    public static let cylinderBytes = 16 * 63 * 512

    public func build() throws -> BuiltImage {
        let fm = FileManager.default
        let out = options.outputDirectory
        try fm.createDirectory(at: out, withIntermediateDirectories: true)
        let package = options.packageDirectory
        // The guest first: a bad guest file is refused before any product
        // is written (and before the hypervisor build).
        let guest = try guestBlobs()

        let archive = try buildHypervisorArchive()

        let elf = out.appendingPathComponent("hypervisor.elf")
        let flat = out.appendingPathComponent("hypervisor.bin")
        progress("link: \(elf.lastPathComponent) (ld.lld, Boot/hypervisor.ld)")
        try Shell.check(
            try SystemTool.lld.locate(),
            ["-static", "-nostdlib", "--gc-sections", "--orphan-handling=error",
             "-T", package.appendingPathComponent("Boot/hypervisor.ld").path, "-o", elf.path, archive.path])
        try Shell.check(try SystemTool.objcopy.locate(), ["-O", "binary", elf.path, flat.path])
        let image = try ELFImage(contentsOf: elf)
        guard image.entry == BootLayout.hypervisorLoadAddress else {
            throw ToolError("hypervisor.elf entry 0x\(String(image.entry, radix: 16)) is not the load address 0x\(String(BootLayout.hypervisorLoadAddress, radix: 16)): check Boot/hypervisor.ld")
        }
        guard let imageEnd = image.symbols["__image_end"] else {
            throw ToolError("hypervisor.elf has no __image_end symbol: check Boot/hypervisor.ld")
        }

        let stages = try StageAssembler(package: package, output: out).assemble()

        let hypervisorBytes = [UInt8](try Data(contentsOf: flat))
        var blobs = [
            PayloadBuilder.Blob(
                kind: .hypervisor,
                flags: (options.direct ? PayloadEntry.directBootFlag : 0) | (options.panicTest ? PayloadEntry.panicTestFlag : 0)
                    | (options.stackOverflowTest ? PayloadEntry.stackOverflowTestFlag : 0)
                    | (options.heapExhaustionTest ? PayloadEntry.heapExhaustionTestFlag : 0),
                bytes: hypervisorBytes,
                memorySize: imageEnd - BootLayout.hypervisorLoadAddress)
        ]
        blobs += guest
        let (manifest, payload) = PayloadBuilder.build(
            blobs: blobs, entryPoint: image.entry, loadAddress: BootLayout.payloadBase)
        progress("payload: \(manifest.entries.count) entries, \(payload.count) bytes, loads at 0x\(String(BootLayout.payloadBase, radix: 16))")

        let raw = out.appendingPathComponent("pxhv.img")
        let imageBytes = try Self.assembleImage(stage1: stages.stage1, stage2: stages.stage2, payload: payload)
        try Data(imageBytes).write(to: raw)
        progress("image: \(raw.path) (\(imageBytes.count) bytes, raw disk / USB)")

        let iso = try makeISO(bootImage: raw)
        let isoSize = (try fm.attributesOfItem(atPath: iso.path)[.size] as? NSNumber)?.uint64Value ?? 0
        progress("iso: \(iso.path) (\(isoSize) bytes)")

        let sizes = BuiltImage.Sizes(
            stage1: UInt64(stages.stage1.count), stage2: UInt64(stages.stage2.count),
            text: image.size(of: ".text"), rodata: image.size(of: ".rodata"), data: image.size(of: ".data"),
            bss: image.size(of: ".bss"), payload: UInt64(payload.count), image: UInt64(imageBytes.count),
            iso: isoSize)
        progress(sizes.line)
        let textByModule = TextByModule(elf: image)
        progress(textByModule.line)
        return BuiltImage(iso: iso, rawImage: raw, hypervisorELF: elf, sizes: sizes, textByModule: textByModule)
    }

    /// The payload entries of the chosen guest.
    func guestBlobs() throws -> [PayloadBuilder.Blob] {
        switch options.guest {
        case .none:
            return []
        case .test:
            let nasm = try SystemTool.nasm.locate()
            let directory = options.packageDirectory.appendingPathComponent("Guest/test", isDirectory: true)
            progress("assemble: Guest/test/real.asm, Guest/test/long.asm (nasm)")
            return try [("real", TestGuestStart.realMode), ("long", TestGuestStart.longMode)].map { name, start in
                let output = options.outputDirectory.appendingPathComponent("guest-\(name).bin")
                try Shell.check(
                    nasm, ["-f", "bin", "-I", directory.path + "/", "-I", Self.guestIncludeDirectory(package: options.packageDirectory),
                           "-o", output.path,
                           directory.appendingPathComponent("\(name).asm").path])
                return PayloadBuilder.Blob(
                    kind: .testGuest, flags: start.rawValue, bytes: [UInt8](try Data(contentsOf: output)))
            }
        case .linux:
            return try linuxGuestSource().load().blobs
        case .hostile:
            let output = options.outputDirectory.appendingPathComponent("guest-hostile.bin")
            progress("assemble: \(Self.hostileGuestSource) (nasm)")
            try Shell.check(try SystemTool.nasm.locate(), Self.hostileGuestNASMArguments(package: options.packageDirectory, output: output))
            // Flags as the 64-bit test guest's: it starts the same way.
            return [PayloadBuilder.Blob(
                kind: .hostileGuest, flags: TestGuestStart.longMode.rawValue,
                bytes: [UInt8](try Data(contentsOf: output)))]
        case .bios:
            return try biosGuestBlobs()
        case .freedos:
            return try freeDOSGuestBlobs()
        case .multiboot:
            return try multibootGuestBlobs()
        case .smp:
            let output = options.outputDirectory.appendingPathComponent("guest-smp.bin")
            progress("assemble: \(Self.smpGuestSource) (nasm)")
            let source = options.packageDirectory.appendingPathComponent(Self.smpGuestSource)
            try Shell.check(
                try SystemTool.nasm.locate(),
                ["-f", "bin", "-I", source.deletingLastPathComponent().path + "/",
                 "-I", Self.guestIncludeDirectory(package: options.packageDirectory)]
                    + (options.smpAPAttack ? ["-DAP_ATTACK"] : []) + ["-o", output.path, source.path])
            return [PayloadBuilder.Blob(
                kind: .testGuest, flags: TestGuestStart.smp.rawValue, bytes: [UInt8](try Data(contentsOf: output)))]
        }
    }

    /// The SMP test guest's source, relative to the package.
    public static let smpGuestSource = "Guest/smp/smp.asm"

    /// The hostile guest's source, relative to the package.
    public static let hostileGuestSource = "Guest/hostile/hostile.asm"

    /// nasm's arguments for the hostile guest: a flat binary, includes from
    /// its own directory and the guests' shared one.
    static func hostileGuestNASMArguments(package: URL, output: URL) -> [String] {
        let source = package.appendingPathComponent(hostileGuestSource)
        return ["-f", "bin", "-I", source.deletingLastPathComponent().path + "/",
                "-I", guestIncludeDirectory(package: package), "-o", output.path, source.path]
    }

    /// Guest/include/: what the NASM guests share (the output line).
    static func guestIncludeDirectory(package: URL) -> String {
        package.appendingPathComponent("Guest/include", isDirectory: true).path + "/"
    }

    /// stage 1 | stage 2 padded to the payload offset | payload, padded to
    /// whole Bochs cylinders (a multiple of 2048, so also whole CD sectors).
    public static func assembleImage(stage1: [UInt8], stage2: [UInt8], payload: [UInt8]) throws -> [UInt8] {
        guard stage1.count == 512, stage1[510] == 0x55, stage1[511] == 0xAA else {
            throw ToolError("stage1.bin must be 512 bytes ending 0x55 0xAA (got \(stage1.count) bytes)")
        }
        guard UInt64(stage2.count) <= BootLayout.stage2MaxSize else {
            throw ToolError("stage2.bin is \(stage2.count) bytes; the layout allows \(BootLayout.stage2MaxSize)")
        }
        var bytes = stage1 + stage2
        bytes += [UInt8](repeating: 0, count: Int(BootLayout.imagePayloadOffset) - bytes.count)
        bytes += payload
        let padded = (bytes.count + cylinderBytes - 1) / cylinderBytes * cylinderBytes
        bytes += [UInt8](repeating: 0, count: padded - bytes.count)
        return bytes
    }

    /// `swift build` of the PXHVKernel product for x86_64-unknown-none-elf,
    /// in its own scratch directory (the package's .build is locked by the
    /// `swift package` that runs the plugin).
    func buildHypervisorArchive() throws -> URL {
        let package = options.packageDirectory
        // One scratch directory per package, whatever the output: every image
        // shares the same hypervisor build (SwiftPM's lock serializes users).
        let scratch = package.appendingPathComponent(".build/pxhv-embedded", isDirectory: true)
        progress("build: hypervisor (swift build, Embedded Swift, x86_64-unknown-none-elf)")
        let started = Date()
        var environment = ProcessInfo.processInfo.environment
        // A `swift test` parent leaves these set; they would redirect the child.
        for key in environment.keys where key.hasPrefix("SWIFTPM_") || key == "XCTestBundlePath" {
            environment[key] = nil
        }
        try Shell.check(
            try SystemTool.swift.locate(),
            ["build", "-c", "release", "--package-path", package.path,
             "--triple", "x86_64-unknown-none-elf",
             "--toolset", package.appendingPathComponent("Tools/Toolsets/embedded-x86_64.json").path,
             "--scratch-path", scratch.path, "--product", "PXHVKernel"],
            environment: environment)
        progress(String(format: "build: hypervisor built in %.1f s", Date().timeIntervalSince(started)))
        return scratch.appendingPathComponent("x86_64-unknown-none-elf/release/libPXHVKernel.a")
    }

    func makeISO(bootImage: URL) throws -> URL {
        let fm = FileManager.default
        let root = options.outputDirectory.appendingPathComponent("iso-root", isDirectory: true)
        try? fm.removeItem(at: root)
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        try fm.copyItem(at: bootImage, to: root.appendingPathComponent("pxhv.img"))
        let iso = options.outputDirectory.appendingPathComponent("pxhv.iso")
        try? fm.removeItem(at: iso)
        // El Torito no-emulation: the BIOS loads 4 x 512 bytes (stage 1 and
        // the start of stage 2); -boot-info-table tells stage 1 the image's
        // own LBA (offset 12), from which it reads the rest.
        try Shell.check(
            try SystemTool.xorriso.locate(),
            ["-as", "mkisofs", "-quiet", "-V", "PXHV", "-o", iso.path,
             "-b", "pxhv.img", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", root.path])
        return iso
    }
}

/// Assembles Boot/stage1.asm and Boot/stage2.asm with nasm.
public struct StageAssembler {
    public var package: URL
    public var output: URL

    public init(package: URL, output: URL) {
        self.package = package
        self.output = output
    }

    public func assemble() throws -> (stage1: [UInt8], stage2: [UInt8]) {
        let nasm = try SystemTool.nasm.locate()
        let boot = package.appendingPathComponent("Boot", isDirectory: true)
        progress("assemble: Boot/stage1.asm, Boot/stage2.asm (nasm)")
        var results: [[UInt8]] = []
        for stage in ["stage1", "stage2"] {
            let binary = output.appendingPathComponent("\(stage).bin")
            try Shell.check(
                nasm, ["-f", "bin", "-I", boot.path + "/", "-o", binary.path,
                       boot.appendingPathComponent("\(stage).asm").path])
            results.append([UInt8](try Data(contentsOf: binary)))
        }
        return (results[0], results[1])
    }
}
