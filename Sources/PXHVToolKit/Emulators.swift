import Foundation

/// How an emulator run ended.
public enum RunOutcome: Equatable, Sendable {
    /// The machine powered itself off (ACPI S5): the normal end.
    case poweredOff
    /// `--timeout` passed first; the emulator was stopped.
    case timedOut
    /// `stopWhen` matched and the machine then stayed up, doing nothing
    /// visible, for the hold time: a deliberate halt, not a reboot loop.
    case halted
    /// The emulator stopped on its own for another reason (panic, error).
    case failed(String)

    /// The exit status of `run-qemu` / `run-bochs`: 0 powered off,
    /// 2 halted (pxHV stopped on an error it printed), 124 timed out (like
    /// timeout(1)), 1 anything else.
    public var exitStatus: Int32 {
        switch self {
        case .poweredOff: 0
        case .halted: 2
        case .timedOut: 124
        case .failed: 1
        }
    }

    /// The hypervisor's last line before it halts for good.
    public static let haltLine = "pxhv: halted"
    /// The hypervisor's line right before its ACPI power-off.
    public static let powerOffLine = "pxhv: powering off"

    /// Whether the verdict channel's text has `line` as a whole line (a
    /// line that starts with it: Bochs ends lines with CRLF).
    public static func verdict(_ verdict: String, hasLine line: String) -> Bool {
        verdict.split(whereSeparator: \.isNewline).contains { $0.hasPrefix(line) }
    }

    /// The outcome, once the emulator has exited by itself: `emulator` is
    /// what the emulator says (its exit status, its log); the verdict
    /// channel says whether pxHV itself powered the machine off. A machine
    /// that went down without pxHV's power-off line (a guest that reached a
    /// power-off or reset port, a triple fault) is a failure, whatever COM1
    /// shows. `hypervisorOwnsPowerOff` is false only for the native baseline
    /// (`--direct`), where Linux powers off by itself.
    public static func decide(emulator: RunOutcome, verdict: String, hypervisorOwnsPowerOff: Bool = true) -> RunOutcome {
        guard emulator == .poweredOff, hypervisorOwnsPowerOff else { return emulator }
        if Self.verdict(verdict, hasLine: powerOffLine) { return .poweredOff }
        if Self.verdict(verdict, hasLine: haltLine) {
            return .failed("pxHV halted (see its error line on the verdict channel), then the machine went off")
        }
        return .failed("the machine went off without pxHV's '\(powerOffLine)' on the verdict channel (a guest-made power-off or reset, or a triple fault)")
    }


    public var summary: String {
        switch self {
        case .poweredOff: "the machine powered off"
        case .timedOut: "timed out; the emulator was stopped"
        case .halted: "pxHV halted (see its error line above); the emulator was stopped"
        case .failed(let why): "the emulator stopped: \(why)"
        }
    }
}

public struct RunResult: Sendable {
    public var outcome: RunOutcome
    /// Everything the machine wrote to COM1: the hypervisor's lines and the
    /// guest's output (guests can write there: never trust a verdict here).
    public var serial: String
    /// Everything the machine wrote to COM2, the verdict channel: only pxHV
    /// writes there (its I/O bitmap hides the UART from every guest).
    public var verdict: String
    public var seconds: Double
    public var serialLog: URL
    public var verdictLog: URL

    /// `serial log <path>; verdict log <path>`: where both logs are.
    public var logsLine: String { "serial log \(serialLog.path); verdict log \(verdictLog.path)" }
}

/// Where the two serial ports of a run go, inside its work directory.
enum RunLogs {
    static func serial(_ work: URL) -> URL { work.appendingPathComponent("serial.log") }
    static func verdict(_ work: URL) -> URL { work.appendingPathComponent("verdict.log") }
}

/// Runs an emulator process while copying the serial log (COM1) to our
/// output as it grows, until the process ends, `timeout` passes, or
/// `stopWhen` says so on the verdict channel (COM2).
struct EmulatorProcess {
    var executable: URL
    var arguments: [String]
    var environment: [String: String]?
    var serialLog: URL
    var verdictLog: URL
    var echo: Bool
    var timeout: Double
    /// Checked against the verdict channel's text so far (never COM1, where
    /// a guest can print anything); once true, both ports must stay silent
    /// for `holdSeconds` (a reboot would print), then the run stops as
    /// `.halted` (used for a CPU that halts for good, which never powers off).
    var stopWhen: (@Sendable (String) -> Bool)? = nil
    var holdSeconds: Double = 3

    /// SIGTERM, then SIGKILL if it is still there after 2 s: a child of a
    /// test runner can inherit a mask that blocks SIGTERM.
    static func stop(_ process: Process) {
        process.terminate()
        for _ in 0..<20 where process.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func run(classify: (Int32) -> RunOutcome) throws -> RunResult {
        for log in [serialLog, verdictLog] {
            try? FileManager.default.removeItem(at: log)
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        let quiet = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = quiet
        process.standardError = quiet
        let started = Date()
        try process.run()

        var shown = 0
        var serial = Data()
        var verdict = Data()
        var matchedAt: (time: Date, bytes: Int, serialBytes: Int)? = nil
        var halted = false
        var timedOut = false
        while process.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
            serial = (try? Data(contentsOf: serialLog)) ?? serial
            verdict = (try? Data(contentsOf: verdictLog)) ?? verdict
            if echo && serial.count > shown {
                FileHandle.standardOutput.write(serial[shown...])
                shown = serial.count
            }
            if matchedAt == nil, let stopWhen, stopWhen(String(decoding: verdict, as: UTF8.self)) {
                matchedAt = (Date(), verdict.count, serial.count)
            }
            if let match = matchedAt, Date().timeIntervalSince(match.time) >= holdSeconds {
                halted = verdict.count == match.bytes && serial.count == match.serialBytes
                Self.stop(process)
                break
            }
            if Date().timeIntervalSince(started) > timeout {
                timedOut = true
                Self.stop(process)
                break
            }
        }
        process.waitUntilExit()
        serial = (try? Data(contentsOf: serialLog)) ?? serial
        verdict = (try? Data(contentsOf: verdictLog)) ?? verdict
        if echo && serial.count > shown { FileHandle.standardOutput.write(serial[shown...]) }
        let outcome: RunOutcome
        if timedOut {
            outcome = .timedOut
        } else if let match = matchedAt {
            outcome = halted ? .halted : .failed("the machine kept printing after pxHV's halt line (\(verdict.count - match.bytes) more bytes on the verdict channel, \(serial.count - match.serialBytes) on COM1) or the emulator exited")
        } else {
            outcome = classify(process.terminationStatus)
        }
        return RunResult(
            outcome: outcome, serial: String(decoding: serial, as: UTF8.self),
            verdict: String(decoding: verdict, as: UTF8.self),
            seconds: Date().timeIntervalSince(started), serialLog: serialLog, verdictLog: verdictLog)
    }
}

public enum BootMedium: String, Sendable {
    case iso, disk
}

/// Bochs 2.7 with its VT-x model (cpu model corei7_skylake_x): the platform
/// on which pxHV's VMX code runs in tests.
public struct BochsRunner {
    public var image: BuiltImage
    public var medium: BootMedium = .iso
    public var memoryMiB = 512
    public var cpuModel = "corei7_skylake_x"
    /// Processors (`cpu: count=N`, bochsrc(5) "count"): Bochs 2.7 runs them
    /// on one host thread, round-robin, up to `quantum` (default 16)
    /// instructions each per turn, and advances emulated time by `quantum`
    /// ticks per round of all CPUs (main.cc's SMP loop): so `ips` is per
    /// CPU, and each running CPU adds its share of wall time. A CPU in HLT
    /// returns at once; a spinning one costs as much as the guest's, which
    /// is why pxHV parks APs with `cli; hlt`. Its BIOS lists every CPU in
    /// the MP table and the ACPI MADT and leaves the APs halted.
    public var cpuCount = 1
    public var timeout: Double = 120
    public var echo = true
    public var workDirectory: URL
    /// Verdict-channel text after which the machine is expected to halt for
    /// good (e.g. `RunOutcome.haltLine`).
    public var stopWhen: (@Sendable (String) -> Bool)? = nil
    /// False for the native baseline (`--direct`): no hypervisor runs, so
    /// the power-off is the guest's own (`RunOutcome.decide`).
    public var hypervisorOwnsPowerOff = true

    public init(image: BuiltImage, workDirectory: URL) {
        self.image = image
        self.workDirectory = workDirectory
    }

    /// The BIOS runs with `options=fastboot` (bochsrc(5), "romimage"): no
    /// "Press F12 for boot menu" pause, which otherwise holds the boot for
    /// about 3 s of emulated time (310 million TSC ticks before stage 1).
    public var configuration: String {
        let drive: String
        switch medium {
        case .iso:
            drive = "ata0-master: type=cdrom, path=\"\(image.iso.path)\", status=inserted\nboot: cdrom"
        case .disk:
            drive = "ata0-master: type=disk, path=\"\(image.rawImage.path)\", mode=flat\nboot: disk"
        }
        return """
            # Written by pxhv-tool run-bochs.
            megs: \(memoryMiB)
            cpu: model=\(cpuModel), count=\(cpuCount), ips=100000000, reset_on_triple_fault=0
            clock: sync=none, time0=local
            romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot
            vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
            display_library: sdl2
            \(drive)
            com1: enabled=1, mode=file, dev="\(RunLogs.serial(workDirectory).path)"
            com2: enabled=1, mode=file, dev="\(RunLogs.verdict(workDirectory).path)"
            log: "\(workDirectory.appendingPathComponent("bochs.log").path)"
            panic: action=fatal
            error: action=report
            info: action=report
            debug: action=ignore

            """
    }

    /// Writes bochsrc and the debugger script, runs Bochs headless.
    public func run() throws -> RunResult {
        let bochs = try SystemTool.bochs.locate()
        let fm = FileManager.default
        try fm.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let rc = workDirectory.appendingPathComponent("bochsrc")
        try configuration.write(to: rc, atomically: true, encoding: .utf8)
        // Debian's Bochs is built with its debugger: it stops at the first
        // instruction unless told to continue.
        let script = workDirectory.appendingPathComponent("continue.rc")
        try "c\n".write(to: script, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["SDL_VIDEODRIVER"] = "dummy"
        environment["SDL_AUDIODRIVER"] = "dummy"
        let log = workDirectory.appendingPathComponent("bochs.log")
        try? fm.removeItem(at: log)
        let process = EmulatorProcess(
            executable: bochs, arguments: ["-f", rc.path, "-q", "-rc", script.path], environment: environment,
            serialLog: RunLogs.serial(workDirectory), verdictLog: RunLogs.verdict(workDirectory), echo: echo,
            timeout: timeout, stopWhen: stopWhen)
        var result = try process.run { _ in
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return Self.classify(bochsLog: text)
        }
        result.outcome = RunOutcome.decide(
            emulator: result.outcome, verdict: result.verdict, hypervisorOwnsPowerOff: hypervisorOwnsPowerOff)
        return result
    }

    /// Bochs logs why it stopped; an ACPI soft power-off is the normal end.
    static func classify(bochsLog: String) -> RunOutcome {
        let lines = bochsLog.split(separator: "\n")
        if lines.contains(where: { $0.contains("ACPI control: soft power off") || $0.contains("shutdown requested") }) {
            return .poweredOff
        }
        if let panic = lines.last(where: { $0.contains("PANIC") || $0.contains("FATAL") }) {
            return .failed(String(panic))
        }
        return .failed(String(lines.last ?? "no bochs.log"))
    }
}

/// QEMU: KVM with `-cpu host` where the host's KVM offers nested VT-x or
/// AMD-V, otherwise TCG with `-cpu max`, which models AMD-V with nested
/// paging (and no VMX at all): pxHV then runs on its SVM backend.
public struct QEMURunner {
    /// The line the hypervisor prints right before its ACPI power-off.
    public static let powerOffLine = RunOutcome.powerOffLine

    public var image: BuiltImage
    public var medium: BootMedium = .iso
    public var memoryMiB = 512
    public var cpu: String? = nil
    /// Logical CPUs (`-smp`; QEMU's default is 1).
    public var cpuCount = 1
    public var gdb = false
    public var timeout: Double = 120
    public var echo = true
    public var workDirectory: URL
    /// Verdict-channel text after which the machine is expected to halt.
    public var stopWhen: (@Sendable (String) -> Bool)? = nil
    /// False for the native baseline (`--direct`), see `RunOutcome.decide`.
    public var hypervisorOwnsPowerOff = true

    public init(image: BuiltImage, workDirectory: URL) {
        self.image = image
        self.workDirectory = workDirectory
    }

    /// How QEMU will run the hypervisor, and why (one line for the user).
    public enum Acceleration: Equatable, Sendable {
        /// KVM, `-cpu host`; the host CPU flag ("vmx" or "svm") it offers.
        case kvm(hostFlag: String)
        /// TCG, `-cpu max` (or `--cpu`); why KVM is not used.
        case tcg(reason: String)

        public var line: String {
            switch self {
            case .kvm(let flag):
                "qemu: KVM with -cpu host (the host offers \(flag == "svm" ? "AMD-V" : "VT-x") to guests)"
            case .tcg(let reason):
                "qemu: TCG with an emulated AMD-V CPU (\(reason)); pxHV runs on its SVM backend. For VT-x: KVM on an Intel host, or `swift package run-bochs`"
            }
        }
    }

    /// KVM is usable only if QEMU can actually start with it (some machines
    /// have a /dev/kvm that QEMU cannot use), and nested virtualization
    /// needs `vmx` or `svm` in the host CPU flags. `cpuFlags` is the host's
    /// first `flags` line of /proc/cpuinfo.
    public static func acceleration(
        cpu: String?, kvmWritable: Bool, cpuFlags: [Substring], kvmStarts: () -> Bool
    ) -> Acceleration {
        if cpu != nil { return .tcg(reason: "--cpu given") }
        guard kvmWritable else { return .tcg(reason: "no writable /dev/kvm") }
        guard let flag = ["vmx", "svm"].first(where: { cpuFlags.contains(Substring($0)) }) else {
            return .tcg(reason: "the host CPU offers neither vmx nor svm to KVM guests")
        }
        guard kvmStarts() else { return .tcg(reason: "QEMU cannot start with KVM here") }
        return .kvm(hostFlag: flag)
    }

    /// `acceleration` for this machine.
    public func detectAcceleration(qemu: URL) -> Acceleration {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })?.split(separator: " ") ?? []
        return Self.acceleration(
            cpu: cpu, kvmWritable: FileManager.default.isWritableFile(atPath: "/dev/kvm"), cpuFlags: Array(flags)
        ) {
            let probe = try? Shell.run(
                qemu, ["-accel", "kvm", "-cpu", "host", "-machine", "q35", "-display", "none", "-nodefaults",
                       "-S", "-monitor", "none", "-serial", "none", "-no-reboot", "-daemonize", "-pidfile", "/dev/null"],
                captureOutput: true)
            return probe?.status == 0
        }
    }

    public func arguments(kvm: Bool) -> [String] {
        var args = ["-machine", "pc", "-m", "\(memoryMiB)", "-display", "none", "-no-reboot",
                    // COM1 (0x3F8): console; COM2 (0x2F8): the verdict channel.
                    "-serial", "file:\(RunLogs.serial(workDirectory).path)",
                    "-serial", "file:\(RunLogs.verdict(workDirectory).path)",
                    "-monitor", "none"]
        if kvm { args += ["-accel", "kvm", "-cpu", cpu ?? "host"] } else { args += ["-accel", "tcg", "-cpu", cpu ?? "max"] }
        if cpuCount != 1 { args += ["-smp", "\(cpuCount)"] }
        switch medium {
        case .iso: args += ["-cdrom", image.iso.path, "-boot", "d"]
        case .disk: args += ["-drive", "file=\(image.rawImage.path),format=raw,if=ide", "-boot", "c"]
        }
        if gdb { args += ["-s", "-S"] }
        return args
    }

    public func run() throws -> RunResult {
        let qemu = try SystemTool.qemu.locate()
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let acceleration = detectAcceleration(qemu: qemu)
        progress(acceleration.line)
        let kvm: Bool
        if case .kvm = acceleration { kvm = true } else { kvm = false }
        if gdb { progress("qemu: waiting for gdb on localhost:1234 (gdb \(image.hypervisorELF.path) -ex 'target remote :1234')") }
        let process = EmulatorProcess(
            executable: qemu, arguments: arguments(kvm: kvm), environment: nil,
            serialLog: RunLogs.serial(workDirectory), verdictLog: RunLogs.verdict(workDirectory), echo: echo,
            timeout: gdb ? .infinity : timeout, stopWhen: stopWhen)
        // With -no-reboot QEMU exits 0 both on ACPI power-off and on a reset
        // (a triple fault): the hypervisor's last line on the verdict
        // channel tells them apart.
        var result = try process.run { status in
            status == 0 ? .poweredOff : .failed("qemu exited with status \(status)")
        }
        result.outcome = RunOutcome.decide(
            emulator: result.outcome, verdict: result.verdict, hypervisorOwnsPowerOff: hypervisorOwnsPowerOff)
        return result
    }
}

extension BochsRunner {
    /// Bochs with its debugger prompt on this terminal and its display on
    /// screen (SDL2): for stepping through the boot by hand.
    public func runDebugger() throws -> Int32 {
        let bochs = try SystemTool.bochs.locate()
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let rc = workDirectory.appendingPathComponent("bochsrc")
        try configuration.write(to: rc, atomically: true, encoding: .utf8)
        progress("bochs: debugger; `c` continues, Ctrl-C breaks in, `q` quits; serial log \(RunLogs.serial(workDirectory).path); verdict log \(RunLogs.verdict(workDirectory).path)")
        let process = Process()
        process.executableURL = bochs
        process.arguments = ["-f", rc.path, "-q"]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
