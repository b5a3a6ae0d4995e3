import Foundation
import Loader
import Testing
@testable import PXHVToolKit

@Test func imageLayoutPutsThePayloadAtItsOffsetAndPadsToCylinders() throws {
    var stage1 = [UInt8](repeating: 0x90, count: 512)
    stage1[510] = 0x55
    stage1[511] = 0xAA
    let stage2 = [UInt8](repeating: 0xCC, count: 1000)
    let payload = [UInt8](repeating: 0xAB, count: 5000)
    let image = try ImageBuilder.assembleImage(stage1: stage1, stage2: stage2, payload: payload)
    #expect(image.count % ImageBuilder.cylinderBytes == 0)
    #expect(image.count % 2048 == 0)
    #expect(Array(image[0..<512]) == stage1)
    #expect(image[512] == 0xCC && image[1511] == 0xCC && image[1512] == 0)
    let offset = Int(BootLayout.imagePayloadOffset)
    #expect(Array(image[offset..<offset + 5000]) == payload)
}

@Test func imageRejectsABadBootSectorAndAnOversizedStage2() {
    #expect(throws: ToolError.self) {
        try ImageBuilder.assembleImage(stage1: [UInt8](repeating: 0, count: 512), stage2: [], payload: [])
    }
    var stage1 = [UInt8](repeating: 0, count: 512)
    stage1[510] = 0x55
    stage1[511] = 0xAA
    #expect(throws: ToolError.self) {
        try ImageBuilder.assembleImage(
            stage1: stage1, stage2: [UInt8](repeating: 0, count: Int(BootLayout.stage2MaxSize) + 1), payload: [])
    }
}

/// A minimal ELF64 built by hand: header, one allocated section, the
/// section-name table.
@Test func elfSectionSizesAndEntry() throws {
    var bytes = [UInt8](repeating: 0, count: 64)
    func put<T: FixedWidthInteger>(_ v: T, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { bytes[o + i] = b } } }
    bytes.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
    bytes[4] = 2; bytes[5] = 1
    put(UInt64(0x201000), 24)
    let names = Array("\0.text\0.shstrtab\0".utf8)
    let namesOffset = bytes.count
    bytes += names
    let sectionTable = bytes.count
    bytes += [UInt8](repeating: 0, count: 3 * 64)
    put(UInt64(sectionTable), 40); put(UInt16(64), 58); put(UInt16(3), 60); put(UInt16(2), 62)
    // [1] .text: name 1, PROGBITS, ALLOC|EXEC, addr, size 0x1234
    put(UInt32(1), sectionTable + 64); put(UInt32(1), sectionTable + 68); put(UInt64(6), sectionTable + 72)
    put(UInt64(0x201000), sectionTable + 80); put(UInt64(0x1234), sectionTable + 96)
    // [2] .shstrtab: name 7, STRTAB
    put(UInt32(7), sectionTable + 128); put(UInt32(3), sectionTable + 132)
    put(UInt64(namesOffset), sectionTable + 152); put(UInt64(names.count), sectionTable + 160)
    let elf = try ELFImage(data: bytes)
    #expect(elf.entry == 0x201000)
    #expect(elf.size(of: ".text") == 0x1234)
    #expect(elf.size(of: ".shstrtab") == 0, "not allocated")
    #expect(throws: ToolError.self) { try ELFImage(data: [0x7F, 0x45]) }
}

@Test func bochsLogClassification() {
    #expect(BochsRunner.classify(bochsLog: "00012[ACPI ] ACPI control: soft power off\n") == .poweredOff)
    if case .failed(let why) = BochsRunner.classify(bochsLog: "001[CPU0 ] PANIC: triple fault\n") {
        #expect(why.contains("PANIC"))
    } else {
        Issue.record("a panic must not count as a power-off")
    }
}

@Test func exitStatusesSayHowARunEnded() {
    #expect(RunOutcome.poweredOff.exitStatus == 0)
    #expect(RunOutcome.halted.exitStatus == 2)
    #expect(RunOutcome.timedOut.exitStatus == 124)
    #expect(RunOutcome.failed("x").exitStatus == 1)
}

@Test func argumentParsing() throws {
    var parser = ArgumentParser(["run-bochs", "--timeout", "30", "--disk", "--bogus"])
    let disk = parser.flag("--disk")
    let timeout = parser.value("--timeout")
    #expect(disk)
    #expect(timeout == "30")
    #expect(parser.remaining == ["run-bochs", "--bogus"])
    parser.remaining.removeFirst()
    let leftover = parser
    #expect(throws: ToolError.self) { try leftover.finish() }
    #expect(ToolCommand.main(["no-such-command"]) == 1)
    #expect(ToolCommand.main(["--help"]) == 0)
}

@Test func missingToolNamesItsDebianPackage() {
    let tool = SystemTool(name: "pxhv-no-such-tool", debianPackage: "pxhv-imaginary")
    #expect(!tool.isAvailable)
    do {
        _ = try tool.locate()
        Issue.record("a missing tool must throw")
    } catch let error as ToolError {
        #expect(error.message == "pxhv-no-such-tool not found: install the Debian package pxhv-imaginary")
    } catch {
        Issue.record("unexpected \(error)")
    }
}

@Test func qemuArgumentsForTCGAndDisk() {
    let fake = BuiltImage(
        iso: URL(fileURLWithPath: "/x/pxhv.iso"), rawImage: URL(fileURLWithPath: "/x/pxhv.img"),
        hypervisorELF: URL(fileURLWithPath: "/x/hypervisor.elf"),
        sizes: .init(stage1: 0, stage2: 0, text: 0, rodata: 0, data: 0, bss: 0, payload: 0, image: 0, iso: 0))
    var runner = QEMURunner(image: fake, workDirectory: URL(fileURLWithPath: "/w"))
    runner.cpu = "qemu64"
    runner.medium = .disk
    let args = runner.arguments(kvm: false)
    #expect(args.contains("tcg") && args.contains("qemu64") && args.contains("-no-reboot"))
    #expect(args.contains("file=/x/pxhv.img,format=raw,if=ide"))
    #expect(!args.contains("-S"))
    #expect(!args.contains("-smp"))  // QEMU's default: 1 CPU
    runner.cpuCount = 2
    let smp = runner.arguments(kvm: false)
    #expect(smp.firstIndex(of: "-smp").map { smp[$0 + 1] } == "2")
    runner.gdb = true
    #expect(runner.arguments(kvm: true).suffix(2) == ["-s", "-S"])
}

@Test func bochsConfigurationNamesTheProcessorCount() throws {
    let directory = URL(fileURLWithPath: "/tmp/pxhv-unused")
    let image = BuiltImage(
        iso: directory.appendingPathComponent("pxhv.iso"), rawImage: directory.appendingPathComponent("boot.img"),
        hypervisorELF: directory.appendingPathComponent("pxhv.elf"),
        sizes: .init(stage1: 0, stage2: 0, text: 0, rodata: 0, data: 0, bss: 0, payload: 0, image: 0, iso: 0))
    var runner = BochsRunner(image: image, workDirectory: directory)
    #expect(runner.configuration.contains("cpu: model=corei7_skylake_x, count=1,"))
    #expect(runner.configuration.contains("romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot\n"),
            "no F12 boot-menu pause")
    runner.cpuCount = 2
    #expect(runner.configuration.contains("cpu: model=corei7_skylake_x, count=2,"))
    var parser = ArgumentParser(["run-bochs", "--cpus", "2"])
    #expect(parser.value("--cpus") == "2")
}

@Test func qemuAccelerationSaysWhichAndWhy() {
    let flags = { (line: String) in line.split(separator: " ") }
    var probed = 0
    let starts = { () -> Bool in probed += 1; return true }
    #expect(QEMURunner.acceleration(cpu: nil, kvmWritable: true, cpuFlags: flags("flags fpu svm npt"), kvmStarts: starts)
        == .kvm(hostFlag: "svm"))
    #expect(QEMURunner.acceleration(cpu: nil, kvmWritable: true, cpuFlags: flags("flags vmx ept"), kvmStarts: starts)
        == .kvm(hostFlag: "vmx"))
    #expect(probed == 2)
    // No nested virtualization, no /dev/kvm, or --cpu: TCG, and KVM is not even probed.
    #expect(QEMURunner.acceleration(cpu: nil, kvmWritable: true, cpuFlags: flags("flags fpu sse2"), kvmStarts: starts)
        == .tcg(reason: "the host CPU offers neither vmx nor svm to KVM guests"))
    #expect(QEMURunner.acceleration(cpu: nil, kvmWritable: false, cpuFlags: flags("flags svm"), kvmStarts: starts)
        == .tcg(reason: "no writable /dev/kvm"))
    #expect(QEMURunner.acceleration(cpu: "qemu64", kvmWritable: true, cpuFlags: flags("flags svm"), kvmStarts: starts)
        == .tcg(reason: "--cpu given"))
    #expect(probed == 2)
    #expect(QEMURunner.acceleration(cpu: nil, kvmWritable: true, cpuFlags: flags("flags svm"), kvmStarts: { false })
        == .tcg(reason: "QEMU cannot start with KVM here"))
    // "svmx" is no flag of either kind.
    #expect(QEMURunner.acceleration(cpu: nil, kvmWritable: true, cpuFlags: flags("flags svmx"), kvmStarts: starts)
        == .tcg(reason: "the host CPU offers neither vmx nor svm to KVM guests"))
    #expect(QEMURunner.Acceleration.tcg(reason: "x").line.contains("SVM backend"))
}
