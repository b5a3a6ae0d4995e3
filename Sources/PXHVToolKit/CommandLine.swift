import Foundation

/// `pxhv-tool <command> [options]`: what the command plugins call.
public enum ToolCommand {
    public static let usage = """
        usage: pxhv-tool <command> [options]

        commands:
          build-image   build the hypervisor, the boot stages, the payload, the
                        raw disk image and the ISO; prints the ISO path last
          run-qemu      build-image, then boot the ISO in QEMU: KVM with -cpu
                        host when the host's KVM offers nested VT-x or AMD-V,
                        else TCG with -cpu max (AMD-V with nested paging);
                        returns at power-off
          run-bochs     build-image, then boot the ISO in Bochs (VT-x model
                        corei7_skylake_x, or --cpu ryzen for AMD-V),
                        headless; returns at power-off

        options (all commands):
          --package-path DIR   the pxHV package (default: current directory)
          --output DIR         where products go (default: <package>/.build/pxhv)
          --guest KIND         payload guest: \(GuestChoice.allCases.map(\.rawValue).joined(separator: " | "))
                               (default: linux); hostile = the attack suite of
                               Guest/hostile, verdicts on the verdict channel;
                               multiboot = a Multiboot v1 kernel (ELF32 or
                               a.out kludge) in 32-bit protected mode
          --kernel PATH        linux guest: this bzImage instead of Debian's
                               (default: the linux-image-* of linux-image-amd64,
                               fetched once into <output>/cache); multiboot
                               guest: the kernel (default: the test kernel
                               Guest/multiboot/mbtest.asm); it must load at or
                               above 1 MiB and below the hypervisor (0x200000)
                               or above the hypervisor's memory
          --initrd PATH        linux guest: this initramfs instead of the one
                               built from Guest/linux/init and busybox-static
          --cmdline STR        linux guest: the kernel command line; default:
                               \(LinuxGuestSource.defaultCommandLine)
                               multiboot guest: the kernel's command line
                               (default: empty)
          --module PATH[=STRING]
                               multiboot guest: a module (repeat for more, in
                               order) and its string (after the first '=';
                               default: PATH)
          --disk-image PATH    bios guest: the floppy (160K 180K 320K 360K 720K
                               1.2M 1.44M 2.88M: drive 0x00) or MBR hard-disk
                               image (whole 512-byte sectors above 2.88M, at
                               most 64 MiB: drive 0x80) booted at 0:7C00;
                               sector 0 must end 0x55 0xAA
          --freedos PATH       freedos guest: a FreeDOS boot floppy image
                               (e.g. FreeDOS 1.3's); pxHV makes a 1.44M floppy
                               of its boot sector, KERNEL.SYS, COMMAND.COM and
                               FDAPM.COM with its own FDCONFIG.SYS,
                               AUTOEXEC.BAT and PXHVCHK.COM (Guest/dos), kept
                               as <output>/freedos-floppy.img; needs mtools
          --freedos-poweroff hypercall|fdapm
                               freedos guest: PXHVCHK ends the guest with the
                               power-off hypercall (default), or returns and
                               AUTOEXEC.BAT runs FreeDOS's FDAPM PUREOFF
          --direct             the native baseline: stage 2 and the same loader
                               boot the Linux guest on the bare CPU, no VMX
          --panic-test         the hypervisor executes UD2 after VMXON (or SVM
                               enable): shows the
                               panic report (vector, error code, RIP, CR2) and halt
          --stack-overflow-test, --heap-exhaustion-test
                               the hypervisor overflows its stack into the guard
                               page / exhausts its heap after VMXON: panic, halt
          --help               this text

        options (run-qemu, run-bochs):
          --disk               boot the raw disk image instead of the ISO
          --timeout SECONDS    stop the emulator after this long (default 1200:
                               the Linux guest takes 3-5 minutes under Bochs);
                               exit status 124
          --memory MIB         guest RAM (default 512)
          --cpus N             logical CPUs (default 1; run-bochs: 2 with
                               --guest hostile, whose attacks start the other
                               CPUs. Under QEMU's TCG (AMD-V) pxHV stops at
                               boot with more than one: QEMU does not hold
                               INIT for a parked CPU)

        options (run-qemu):
          --gdb                wait for gdb on localhost:1234 (-s -S)
          --cpu MODEL          QEMU CPU model; forces TCG (default max; e.g.
                               qemu64,-svm to see the error for a CPU without
                               AMD-V)

        options (run-bochs):
          --debugger           start Bochs's interactive debugger instead of
                               running headless
          --cpu MODEL          Bochs CPU model (default corei7_skylake_x,
                               VT-x; ryzen has AMD-V)

        logs (run-qemu, run-bochs): COM1 goes to <work>/serial.log (and this
        terminal): pxHV's lines and the guest's output. COM2 goes to
        <work>/verdict.log: the verdict channel, which only pxHV writes (its
        I/O bitmap hides the UART from guests). Powered off / halted is
        decided from the verdict channel, never from COM1.

        exit status: 0 built / powered off, 2 halted on an error pxHV printed
        (e.g. no VT-x), 124 timed out, 1 any other error.
        """

    /// Seconds before a run is stopped: a Linux boot under Bochs takes 3-5
    /// minutes on a 2-core machine, more when the machine is shared.
    public static let defaultTimeout: Double = 1200

    /// `--cpus N` (1...16), else 2 for the hostile guest under Bochs (its
    /// attacks start the other CPUs) and 1 for the rest (QEMU's TCG cannot
    /// keep a second AMD-V CPU parked: pxHV would stop at boot).
    static func cpuCount(_ value: String?, guest: GuestChoice, hostileDefault: Int = 2) throws -> Int {
        guard let value else { return guest == .hostile ? hostileDefault : 1 }
        guard let count = Int(value), (1...16).contains(count) else { throw ToolError("--cpus \(value): give 1 to 16") }
        return count
    }

    /// Runs one command; returns the process exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        do {
            var parser = ArgumentParser(arguments)
            if parser.flag("--help") || parser.flag("-h") || parser.remaining.isEmpty {
                print(usage)
                return parser.remaining.isEmpty && !arguments.contains(where: { $0 == "--help" || $0 == "-h" }) ? 1 : 0
            }
            let command = parser.remaining.removeFirst()
            let packagePath = URL(fileURLWithPath: parser.value("--package-path") ?? FileManager.default.currentDirectoryPath)
            var options = ImageOptions(packageDirectory: packagePath)
            if let output = parser.value("--output") { options.outputDirectory = URL(fileURLWithPath: output) }
            options.parseLinuxGuestOptions(&parser)
            options.multibootModules = try parser.values("--module").map(ImageOptions.parseModule)
            if let guest = parser.value("--guest") {
                guard let choice = GuestChoice(rawValue: guest) else {
                    throw ToolError("--guest \(guest): unknown guest (choose: \(GuestChoice.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                options.guest = choice
            }
            try options.checkMultibootOptions()
            try options.parseDiskGuestOptions(&parser)
            options.direct = parser.flag("--direct")
            options.panicTest = parser.flag("--panic-test")
            options.stackOverflowTest = parser.flag("--stack-overflow-test")
            options.heapExhaustionTest = parser.flag("--heap-exhaustion-test")
            if options.direct && options.guest != .linux {
                throw ToolError("--direct boots the Linux guest without the hypervisor: it needs --guest linux")
            }
            let medium: BootMedium = parser.flag("--disk") ? .disk : .iso
            let timeout = try parser.value("--timeout").map { value -> Double in
                guard let seconds = Double(value), seconds > 0 else { throw ToolError("--timeout \(value): not a positive number of seconds") }
                return seconds
            } ?? ToolCommand.defaultTimeout
            let memory = try parser.value("--memory").map { value -> Int in
                guard let mib = Int(value), mib >= 32 else { throw ToolError("--memory \(value): give MiB, at least 32") }
                return mib
            } ?? 512

            switch command {
            case "build-image":
                try parser.finish()
                let image = try ImageBuilder(options: options).build()
                print(image.iso.path)
                return 0
            case "run-qemu":
                let gdb = parser.flag("--gdb")
                let cpu = parser.value("--cpu")
                let cpus = try Self.cpuCount(parser.value("--cpus"), guest: options.guest, hostileDefault: 1)
                try parser.finish()
                let image = try ImageBuilder(options: options).build()
                var runner = QEMURunner(image: image, workDirectory: options.outputDirectory.appendingPathComponent("qemu"))
                runner.medium = medium
                runner.timeout = timeout
                runner.memoryMiB = memory
                runner.gdb = gdb
                runner.cpu = cpu
                runner.cpuCount = cpus
                runner.hypervisorOwnsPowerOff = !options.direct
                runner.stopWhen = { RunOutcome.verdict($0, hasLine: RunOutcome.haltLine) }
                let result = try runner.run()
                progress("qemu: \(result.outcome.summary) after \(String(format: "%.1f", result.seconds)) s; \(result.logsLine)")
                return result.outcome.exitStatus
            case "run-bochs":
                let debugger = parser.flag("--debugger")
                let cpus = try Self.cpuCount(parser.value("--cpus"), guest: options.guest)
                let model = parser.value("--cpu")
                try parser.finish()
                let image = try ImageBuilder(options: options).build()
                var runner = BochsRunner(image: image, workDirectory: options.outputDirectory.appendingPathComponent("bochs"))
                runner.medium = medium
                runner.timeout = timeout
                runner.memoryMiB = memory
                runner.cpuCount = cpus
                if let model { runner.cpuModel = model }
                runner.hypervisorOwnsPowerOff = !options.direct
                if debugger { return try runner.runDebugger() }
                runner.stopWhen = { RunOutcome.verdict($0, hasLine: RunOutcome.haltLine) }
                let result = try runner.run()
                progress("bochs: \(result.outcome.summary) after \(String(format: "%.1f", result.seconds)) s; \(result.logsLine)")
                return result.outcome.exitStatus
            default:
                throw ToolError("unknown command '\(command)' (try --help)")
            }
        } catch let error as ToolError {
            FileHandle.standardError.write(Data("pxhv: error: \(error.message)\n".utf8))
            return 1
        } catch {
            FileHandle.standardError.write(Data("pxhv: error: \(error)\n".utf8))
            return 1
        }
    }
}

/// A small hand-rolled parser: flags and `--name value` options anywhere.
struct ArgumentParser {
    var remaining: [String]

    init(_ arguments: [String]) { remaining = arguments }

    mutating func flag(_ name: String) -> Bool {
        guard let index = remaining.firstIndex(of: name) else { return false }
        remaining.remove(at: index)
        return true
    }

    mutating func value(_ name: String) -> String? {
        guard let index = remaining.firstIndex(of: name), index + 1 < remaining.count else { return nil }
        let value = remaining[index + 1]
        remaining.removeSubrange(index...index + 1)
        return value
    }

    /// Every `name value` pair, in order (an option given more than once,
    /// like `--module`); a `name` without a value stays for `finish`.
    mutating func values(_ name: String) -> [String] {
        var found: [String] = []
        while let value = value(name) { found.append(value) }
        return found
    }

    func finish() throws {
        if let unknown = remaining.first { throw ToolError("unknown option '\(unknown)' (try --help)") }
    }
}

extension ImageOptions {
    /// `--disk-image` (bios guest), `--freedos` and `--freedos-poweroff`
    /// (freedos guest); each refused with another guest, where it would be
    /// silently ignored.
    mutating func parseDiskGuestOptions(_ parser: inout ArgumentParser) throws {
        diskImage = parser.value("--disk-image").map { URL(fileURLWithPath: $0) }
        freeDOSImage = parser.value("--freedos").map { URL(fileURLWithPath: $0) }
        let powerOff = parser.value("--freedos-poweroff")
        if let powerOff {
            guard let choice = FreeDOSPowerOff(rawValue: powerOff) else {
                throw ToolError("--freedos-poweroff \(powerOff): choose \(FreeDOSPowerOff.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            freeDOSPowerOff = choice
        }
        if diskImage != nil && guest != .bios { throw ToolError("--disk-image is for --guest bios") }
        if (freeDOSImage != nil || powerOff != nil) && guest != .freedos {
            throw ToolError("--freedos and --freedos-poweroff are for --guest freedos")
        }
    }
}
