import Foundation
import Loader

/// How the FreeDOS guest ends (`--freedos-poweroff`).
public enum FreeDOSPowerOff: String, CaseIterable, Sendable {
    /// PXHVCHK.COM ends the guest with hypercall 4 (status 0 if every check
    /// passed, else 1).
    case hypercall
    /// `PXHVCHK /KEEP` returns to DOS, and AUTOEXEC.BAT runs FreeDOS's own
    /// `FDAPM PUREOFF` (APM "set power state: off" through the BIOS's INT
    /// 15h AX=5307h; POWEROFF without stopping the IDE disks first): DOS's
    /// power-off has to end the guest through the hypervisor.
    case fdapm
}

/// Debian's mtools: pxHV reads the user's FreeDOS image and writes the
/// floppy with them, never through a loop mount (no root needed).
struct MTools {
    var minfo = SystemTool(name: "minfo", debianPackage: "mtools")
    var mdir = SystemTool(name: "mdir", debianPackage: "mtools")
    var mformat = SystemTool(name: "mformat", debianPackage: "mtools")
    var mcopy = SystemTool(name: "mcopy", debianPackage: "mtools")
}

/// The boot floppy of `--guest freedos`: a fresh 1.44 MB FAT12 floppy with
/// the user's FreeDOS boot sector code, kernel and shell (and FDAPM if the
/// image has it), plus pxHV's FDCONFIG.SYS, AUTOEXEC.BAT and PXHVCHK.COM
/// (Guest/dos). Nothing else from the user's image: no memory managers,
/// menus or drivers that would slow the boot or put DOS in V86 mode.
public struct FreeDOSFloppy {
    /// The guest's own files, relative to the package.
    public static let checkProgramSource = "Guest/dos/pxhvchk.asm"
    public static let configSource = "Guest/dos/fdconfig.sys"
    public static let autoexecSource = "Guest/dos/autoexec.bat"
    /// The line of autoexec.bat that runs the check program; `--freedos-poweroff
    /// fdapm` adds ` /KEEP` to it.
    public static let checkProgramLine = "A:\\PXHVCHK.COM"

    /// 1.44 MB, 80 cylinders, 2 heads, 18 sectors (mformat -f 1440).
    public static let floppyBytes = 1_474_560

    /// Where the user's image keeps what the floppy takes (mtools paths,
    /// `::/...`, as `mdir -/ -b` lists them).
    public struct Sources: Equatable, Sendable {
        public var kernel: String
        public var shell: String
        public var fdapm: String?
    }

    /// Finds the kernel, the shell and FDAPM in an `mdir -/ -b` listing.
    /// The kernel must be KERNEL.SYS in the root (FreeDOS's FAT12 boot
    /// sector loads it from there, by name); COMMAND.COM is looked for in
    /// the root, then \FREEDOS\BIN, \FDOS\BIN, then anywhere; FDAPM.COM the
    /// same way. Names compare case-insensitively (mdir shows long names).
    public static func locate(listing: String, image name: String) throws(ToolError) -> Sources {
        let paths = listing.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("::/") && !$0.hasSuffix("/") }
        func find(_ file: String) -> String? {
            let preferred = ["::/", "::/FREEDOS/BIN/", "::/FDOS/BIN/"].map { $0 + file }
            for candidate in preferred {
                if let hit = paths.first(where: { $0.uppercased() == candidate }) { return hit }
            }
            return paths.first { $0.uppercased().hasSuffix("/" + file) }
        }
        guard let kernel = paths.first(where: { $0.uppercased() == "::/KERNEL.SYS" }) else {
            throw ToolError("\(name): no KERNEL.SYS in the root directory (the FreeDOS kernel, which its boot sector loads from there)")
        }
        guard let shell = find("COMMAND.COM") else {
            throw ToolError("\(name): no COMMAND.COM (looked in \\, \\FREEDOS\\BIN, \\FDOS\\BIN and every other directory)")
        }
        return Sources(kernel: kernel, shell: shell, fdapm: find("FDAPM.COM"))
    }

    /// The kernel with its CONFIG block's SkipConfigSeconds set to 0: no
    /// "Press F8 to trace or F5 to skip" pause (2 s in FreeDOS's default;
    /// under an emulator 2 s of guest time are hundreds of millions of
    /// instructions). What FreeDOS's `SYS CONFIG SKIPCONFIGSECONDS=0` does:
    /// the block follows the kernel's first jump, "CONFIG", a u16 size,
    /// then DLASortByDriveNo, InitDiskShowDriveAssignment,
    /// SkipConfigSeconds (FDOS/kernel, hdr/kconfig.h, `KernelConfig`).
    /// Nil when the kernel has no such block (then it is copied as is).
    public static func kernelWithoutConfigPause(_ kernel: [UInt8]) -> [UInt8]? {
        let magic = Array("CONFIG".utf8)
        let skipConfigSeconds = 12
        guard kernel.count > skipConfigSeconds, Array(kernel[2..<8]) == magic else { return nil }
        let size = Int(kernel[8]) | Int(kernel[9]) << 8
        guard size >= 3 else { return nil }
        var patched = kernel
        patched[skipConfigSeconds] = 0
        return patched
    }

    /// AUTOEXEC.BAT for `powerOff`, from Guest/dos/autoexec.bat: as is for
    /// the hypercall; for FDAPM the check program's line gets ` /KEEP`.
    public static func autoexec(template: String, powerOff: FreeDOSPowerOff) throws(ToolError) -> String {
        var lines = template.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let matches = lines.indices.filter { lines[$0].trimmingCharacters(in: .whitespaces).uppercased() == checkProgramLine }
        guard matches.count == 1 else {
            throw ToolError("\(autoexecSource): needs exactly one line '\(checkProgramLine)' (found \(matches.count))")
        }
        if powerOff == .fdapm { lines[matches[0]] = checkProgramLine + " /KEEP" }
        return lines.joined(separator: "\n")
    }

    /// DOS text: CR LF line ends (COMMAND.COM and the kernel's config
    /// reader expect them).
    public static func dosText(_ text: String) -> [UInt8] {
        Array(text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
    }

    /// The file system of a boot sector, from its BIOS parameter block
    /// (Microsoft "FAT: General Overview of On-Disk Format", "FAT Type
    /// Determination": FAT12 below 4085 clusters); nil if the BPB is not
    /// one (zero bytes per sector or sectors per cluster, and so on).
    public static func fatClusterCount(bootSector b: [UInt8]) -> Int? {
        guard b.count >= 512 else { return nil }
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        let bytesPerSector = u16(0x0B), sectorsPerCluster = Int(b[0x0D]), reserved = u16(0x0E)
        let fats = Int(b[0x10]), rootEntries = u16(0x11), sectorsPerFAT = u16(0x16)
        let total = u16(0x13) != 0 ? u16(0x13) : u32(0x20)
        guard [512, 1024, 2048, 4096].contains(bytesPerSector), sectorsPerCluster > 0, fats > 0, sectorsPerFAT > 0 else {
            return nil
        }
        let rootSectors = (rootEntries * 32 + bytesPerSector - 1) / bytesPerSector
        let data = total - reserved - fats * sectorsPerFAT - rootSectors
        return data > 0 ? data / sectorsPerCluster : nil
    }

    /// The floppy's dates: 1980-01-01 00:00 UTC, the first a FAT directory
    /// entry can hold.
    static let fatEpoch = Date(timeIntervalSince1970: 315_532_800)
    /// The floppy's volume serial number, "PXHV" (mformat -N, hex).
    static let volumeSerial = "50584856"

    /// The largest cluster count of FAT12.
    static let fat12MaxClusters = 4084

    /// Files the floppy holds: (name on the floppy, bytes), in copy order.
    public var files: [(name: String, bytes: [UInt8])] = []
    /// The floppy image.
    public var image: [UInt8] = []
    /// Where each of the user's files came from.
    public var sources: Sources
    /// False when the kernel had no CONFIG block to turn the pause off in.
    public var kernelPauseRemoved: Bool

    /// Builds the floppy from the FreeDOS image at `freeDOS`, with the
    /// package's Guest/dos files. Works in a temporary directory: on any
    /// error nothing is left behind.
    static func build(
        freeDOS: URL, package: URL, powerOff: FreeDOSPowerOff, tools: MTools = MTools()
    ) throws -> FreeDOSFloppy {
        let name = freeDOS.path
        let minfo = try tools.minfo.locate(), mdir = try tools.mdir.locate()
        let mformat = try tools.mformat.locate(), mcopy = try tools.mcopy.locate()
        let nasm = try SystemTool.nasm.locate()
        let userImage: [UInt8]
        do {
            userImage = [UInt8](try Data(contentsOf: freeDOS))
        } catch {
            throw ToolError("\(name): cannot read the FreeDOS image (\(error.localizedDescription))")
        }

        let info = try Shell.run(minfo, ["-i", freeDOS.path, "::"], captureOutput: true)
        guard info.status == 0 else {
            let why = info.output.split(whereSeparator: \.isNewline).joined(separator: "; ")
            throw ToolError("\(name): not a FAT image mtools can read (minfo: \(why.isEmpty ? "exit \(info.status)" : why))")
        }
        // mdir fails on an empty root ("File "::/" not found"): then the
        // listing is empty and the kernel is what is missing.
        let listing = try Shell.run(mdir, ["-i", freeDOS.path, "-/", "-b", "::/"], captureOutput: true)
        let bootSector = Array(userImage.prefix(512))
        guard let clusters = fatClusterCount(bootSector: bootSector), clusters <= fat12MaxClusters else {
            throw ToolError("\(name): not a FAT12 file system: pxHV's floppy is FAT12 and boots with this image's boot sector code, so give a FreeDOS boot floppy image")
        }
        guard bootSector[0x1FE] == 0x55, bootSector[0x1FF] == 0xAA else {
            throw ToolError("\(name): its boot sector has no boot signature (0x55 0xaa at 0x1fe): not a bootable FreeDOS floppy")
        }
        let sources = try locate(listing: listing.output, image: name)
        if powerOff == .fdapm && sources.fdapm == nil {
            throw ToolError("\(name): no FDAPM.COM: --freedos-poweroff fdapm runs FreeDOS's FDAPM PUREOFF")
        }

        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("pxhv-freedos-\(UUID().uuidString)", isDirectory: true)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        // The user's files, copied out of the image.
        func extract(_ path: String) throws -> [UInt8] {
            let local = work.appendingPathComponent("extract.bin")
            try? fm.removeItem(at: local)
            let result = try Shell.run(mcopy, ["-n", "-i", freeDOS.path, path, local.path], captureOutput: true)
            guard result.status == 0 else { throw ToolError("\(name): mcopy of \(path) failed: \(result.output)") }
            return [UInt8](try Data(contentsOf: local))
        }
        let kernel = try extract(sources.kernel)
        let patchedKernel = kernelWithoutConfigPause(kernel)
        var files: [(name: String, bytes: [UInt8])] = [
            ("KERNEL.SYS", patchedKernel ?? kernel),
            ("COMMAND.COM", try extract(sources.shell)),
        ]
        if let fdapm = sources.fdapm { files.append(("FDAPM.COM", try extract(fdapm))) }

        // pxHV's own: the check program, the config, AUTOEXEC.BAT.
        let program = work.appendingPathComponent("PXHVCHK.COM")
        try Shell.check(nasm, [
            "-f", "bin", "-I", ImageBuilder.guestIncludeDirectory(package: package), "-o", program.path,
            package.appendingPathComponent(checkProgramSource).path,
        ])
        files.append(("PXHVCHK.COM", [UInt8](try Data(contentsOf: program))))
        let config = try String(contentsOf: package.appendingPathComponent(configSource), encoding: .utf8)
        files.append(("FDCONFIG.SYS", dosText(config)))
        let template = try String(contentsOf: package.appendingPathComponent(autoexecSource), encoding: .utf8)
        files.append(("AUTOEXEC.BAT", dosText(try autoexec(template: template, powerOff: powerOff))))

        // A fresh floppy with the user's boot sector code: `mformat -B`
        // keeps the code and rewrites only the geometry (BPB) fields.
        // The same inputs make the same bytes: a fixed volume serial number
        // (-N), every date 1980-01-01 00:00 (the FAT epoch; files keep their
        // mtime with -m, the volume label takes SOURCE_DATE_EPOCH), UTC.
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = String(Int(fatEpoch.timeIntervalSince1970))
        environment["TZ"] = "UTC"
        let bootFile = work.appendingPathComponent("bootsect.bin")
        try Data(bootSector).write(to: bootFile)
        let floppy = work.appendingPathComponent("floppy.img")
        try Shell.check(
            mformat, ["-i", floppy.path, "-C", "-f", "1440", "-N", volumeSerial, "-B", bootFile.path, "-v", "PXHV-FDOS", "::"],
            environment: environment)
        for file in files {
            let local = work.appendingPathComponent(file.name)
            try Data(file.bytes).write(to: local)
            try fm.setAttributes([.modificationDate: fatEpoch], ofItemAtPath: local.path)
            try Shell.check(mcopy, ["-m", "-i", floppy.path, local.path, "::/" + file.name], environment: environment)
        }
        let image = [UInt8](try Data(contentsOf: floppy))
        guard image.count == floppyBytes else {
            throw ToolError("mformat -f 1440 made \(image.count) bytes, not \(floppyBytes)")
        }
        return FreeDOSFloppy(files: files, image: image, sources: sources, kernelPauseRemoved: patchedKernel != nil)
    }
}

extension ImageBuilder {
    /// Where the floppy is kept (beside the payload), to boot it natively:
    /// `qemu-system-x86_64 -drive file=<output>/freedos-floppy.img,if=floppy,format=raw`.
    public static let freeDOSFloppyName = "freedos-floppy.img"

    /// `--guest freedos`: a boot floppy made from the image given with `--freedos`.
    func freeDOSGuestBlobs() throws -> [PayloadBuilder.Blob] {
        guard let source = options.freeDOSImage else {
            throw ToolError("--guest freedos needs --freedos PATH (a FreeDOS boot floppy image)")
        }
        let floppy = try FreeDOSFloppy.build(
            freeDOS: source, package: options.packageDirectory, powerOff: options.freeDOSPowerOff)
        let disk = try BIOSDiskImage(bytes: floppy.image, name: "the FreeDOS floppy")
        let output = options.outputDirectory.appendingPathComponent(Self.freeDOSFloppyName)
        try FileManager.default.createDirectory(at: options.outputDirectory, withIntermediateDirectories: true)
        try Data(floppy.image).write(to: output)
        let contents = floppy.files.map { "\($0.name) \($0.bytes.count)" }.joined(separator: ", ")
        progress("freedos: \(output.path): \(contents); power-off: \(options.freeDOSPowerOff.rawValue)")
        progress("freedos: from \(source.path): kernel \(floppy.sources.kernel), shell \(floppy.sources.shell)"
            + (floppy.sources.fdapm.map { ", fdapm \($0)" } ?? "")
            + (floppy.kernelPauseRemoved ? "; kernel's F5/F8 pause off (SkipConfigSeconds 0)" : "; kernel has no CONFIG block: F5/F8 pause kept"))
        return [disk.blob]
    }
}
