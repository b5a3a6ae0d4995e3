import Foundation
import PXHVToolKit
import Testing

/// The Multiboot test kernel (Guest/multiboot/mbtest.asm) as pxHV's guest,
/// with two modules of random bytes and a command line: its ELF32 build
/// under Bochs's VT-x, its a.out-kludge build on AMD-V under QEMU's TCG.
/// Every check the kernel makes passes, it powers off, pxHV prints its
/// exits; what the kernel printed (command line, each module's size, hash
/// and string, the boot loader name) is what the test passed.
@Suite(.serialized)
struct MultibootBoots {
    /// The modules and command line of one boot, written under `work`.
    struct Inputs {
        var modules: [(path: URL, string: String, bytes: [UInt8])]
        var commandLine: String
    }

    static func inputs(in work: URL) throws -> Inputs {
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        // Sizes that are not whole pages: the next module still starts on one.
        var modules: [(path: URL, string: String, bytes: [UInt8])] = []
        for (index, size) in [5000, 777].enumerated() {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let path = work.appendingPathComponent("module\(index).bin")
            try Data(bytes).write(to: path)
            modules.append((path, MultibootTestKernel.moduleString("mbtest-module-\(index)", for: bytes), bytes))
        }
        return Inputs(modules: modules, commandLine: "mbtest modules=2 token=\(UInt32.random(in: 0...UInt32.max))")
    }

    /// Builds the image for `format` with `inputs`; the kernel at `base`.
    static func image(_ format: MultibootTestKernel.Format, base: UInt32 = MultibootTestKernel.defaultBase,
                      name: String, inputs: Inputs) throws -> BuiltImage {
        let kernel = try MultibootTestKernel.build(
            format, base: base, package: EndToEnd.packageDirectory, output: EndToEnd.work(name))
        return try EndToEnd.build(.multiboot, name) { options in
            options.kernel = kernel
            options.commandLine = inputs.commandLine
            options.multibootModules = inputs.modules.map { (path: $0.path, string: $0.string) }
        }.get()
    }

    /// Every check passed, the kernel's lines say what was passed, the
    /// kernel powered off (status 0), the exits lines, pxHV's power-off.
    static func checkPass(_ result: RunResult, inputs: Inputs, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        print("pxhv-e2e: \(name): \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        for line in result.serial.split(whereSeparator: \.isNewline) where line.contains("pxhv-guest: multiboot") {
            print("pxhv-e2e: \(name) \(line)")
        }
        for line in result.verdict.split(whereSeparator: \.isNewline)
        where line.hasPrefix("pxhv: multiboot:") || line.contains("guest result") || line.hasPrefix("pxhv: exits") {
            print("pxhv-e2e: \(name) \(line)")
        }
        #expect(result.outcome == .poweredOff, "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: #"^pxhv: guest result: PASS ([0-9]+)/\1$"#, in: result.verdict) != nil,
                "no all-PASS result line on the verdict channel; \(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        #expect(!result.verdict.contains("pxhv: guest: FAIL"), sourceLocation: sourceLocation)
        #expect(!result.verdict.contains("pxhv: error:"), "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        // The checks that matter most ran (a kernel that skipped them would
        // still have an all-PASS line).
        var required = [
            "multiboot: EAX holds the boot loader magic 0x2badb002",
            "multiboot: CR0.PE = 1 and CR0.PG = 0 (protected mode, paging off)",
            "multiboot: mmap reports no usable memory at 0x200000 (the hypervisor's)",
            "multiboot: mem_upper agrees with the mmap (usable KiB from 1 MiB)",
            "multiboot: mods_count is the modules=N the cmdline gives",
            #"multiboot: boot_loader_name is "pxHV""#,
        ]
        for index in inputs.modules.indices {
            required.append("multiboot: module \(index) size and FNV-1a hash are what its string says")
            required.append("multiboot: module \(index) is page-aligned, above 1 MiB, clear of the kernel and the info structure, in usable memory")
        }
        for check in required {
            #expect(result.verdict.contains("pxhv: guest: PASS \(check)\n") || result.verdict.contains("pxhv: guest: PASS \(check)\r"),
                    "missing PASS \(check)", sourceLocation: sourceLocation)
        }
        // What the kernel received, as it printed it (COM1).
        #expect(result.serial.contains(#"pxhv-guest: multiboot: cmdline ""# + inputs.commandLine + #"""#),
                "\(EndToEnd.logs(result))", sourceLocation: sourceLocation)
        for (index, module) in inputs.modules.enumerated() {
            let hash = String(MultibootTestKernel.fnv1a(module.bytes), radix: 16)
            let pattern = #"pxhv-guest: multiboot: module \#(index) at 0x[0-9a-f]*000 size \#(module.bytes.count) fnv 0x\#(hash) string ""#
                + NSRegularExpression.escapedPattern(for: module.string) + #"""#
            #expect(EndToEnd.line(matching: pattern, in: result.serial) != nil, "module \(index): \(pattern)", sourceLocation: sourceLocation)
        }
        #expect(result.serial.contains(#"pxhv-guest: multiboot: boot_loader_name "pxHV""#), sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: "^pxhv: guest: powered off \\(status 0\\)", in: result.verdict) != nil, sourceLocation: sourceLocation)
        #expect(EndToEnd.line(matching: #"^pxhv: exits total=[0-9]+ cpuid=[0-9]+ msr=[0-9]+ io=[0-9]+ cr=[0-9]+ ept=[0-9]+ vmcall=[0-9]+ hlt=[0-9]+ other=[0-9]+$"#,
                              in: result.verdict) != nil, sourceLocation: sourceLocation)
        #expect(RunOutcome.verdict(result.verdict, hasLine: RunOutcome.powerOffLine), sourceLocation: sourceLocation)
    }

    /// Builds `format` with two fresh modules and a command line, boots it
    /// with `run` (the image, the emulator's work directory), checks the
    /// pass and pxHV's line on how it loaded the kernel.
    static func bootPasses(
        _ format: MultibootTestKernel.Format, _ label: String, loaded: String,
        run: (BuiltImage, URL) throws -> RunResult
    ) throws -> RunResult {
        let name = "multiboot-\(format.rawValue)"
        let inputs = try Self.inputs(in: EndToEnd.work("\(name)-inputs"))
        let result = try run(try Self.image(format, name: name, inputs: inputs), EndToEnd.work("\(label.split(separator: " ")[0])-\(name)"))
        Self.checkPass(result, inputs: inputs, label)
        #expect(EndToEnd.line(matching: #"^pxhv: multiboot: kernel [0-9]+ bytes \("# + loaded + #"\) at 0x100000-"#, in: result.verdict) != nil,
                "\(EndToEnd.logs(result))")
        return result
    }

    @Test(.enabled(if: EndToEnd.canRun(.bochs)))
    func elfKernelWithModulesPassesUnderBochsVTx() throws {
        _ = try Self.bootPasses(.elf, "bochs vmx multiboot elf", loaded: "ELF32, 2 segments") { image, work in
            var runner = BochsRunner(image: image, workDirectory: work)
            runner.timeout = 300
            runner.echo = false
            return try runner.run()
        }
    }

    @Test(.enabled(if: EndToEnd.canRun(.qemu)))
    func aoutKludgeKernelWithModulesPassesUnderQEMUWithAMDV() throws {
        let result = try Self.bootPasses(.aout, "qemu svm multiboot a.out", loaded: "a.out kludge, 1 segments") { image, work in
            var runner = QEMURunner(image: image, workDirectory: work)
            runner.timeout = 300
            runner.echo = false
            return try runner.run()
        }
        #expect(EndToEnd.line(matching: "^pxhv: svm: EFER.SVME on", in: result.verdict) != nil, "\(EndToEnd.logs(result))")
    }

    /// A kernel linked at 4 MiB passes the image builder (it cannot know
    /// where the hypervisor's page pool ends) but lands in the hypervisor's
    /// memory at boot: one error line naming both ranges, nothing of it
    /// loaded, no guest run, pxHV powers off.
    @Test(.enabled(if: EndToEnd.canRun(.qemu)))
    func kernelInHypervisorMemoryIsRefusedAtBoot() throws {
        let inputs = Inputs(modules: [], commandLine: "mbtest modules=0")
        var runner = QEMURunner(image: try Self.image(.aout, base: 0x40_0000, name: "multiboot-at-4mib", inputs: inputs),
                                workDirectory: EndToEnd.work("qemu-multiboot-at-4mib"))
        runner.timeout = 300
        runner.echo = false
        let result = try runner.run()
        print("pxhv-e2e: multiboot kernel at 4 MiB: \(result.outcome.summary) in \(String(format: "%.1f", result.seconds)) s")
        let error = EndToEnd.line(matching: #"^pxhv: error: multiboot: segment \[0x400000, 0x4[0-9a-f]+\) overlaps the hypervisor's memory \[0x200000, 0x[0-9a-f]+\): link the kernel below it or above it$"#,
                                  in: result.verdict)
        #expect(error != nil, "\(EndToEnd.logs(result))")
        if let error { print("pxhv-e2e: \(error)") }
        #expect(!result.verdict.contains("pxhv: multiboot: launching"), "no guest may run")
        #expect(result.outcome == .poweredOff, "\(EndToEnd.logs(result))")
        #expect(RunOutcome.verdict(result.verdict, hasLine: RunOutcome.powerOffLine))
    }
}
