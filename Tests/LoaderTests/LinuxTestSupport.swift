import EPT
import Foundation
@testable import Loader
import Primitives
import Testing

/// Sparse guest memory in 4 KiB pages: cheap for a few MiB of writes
/// scattered over a 512 MiB guest.
struct PagedMemory: PhysicalMemory {
    var pages: [UInt64: [UInt8]] = [:]

    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        var value = T.zero
        for i in 0..<MemoryLayout<T>.size {
            let byte = address + UInt64(i)
            value |= T(pages[byte >> 12]?[Int(byte & 0xFFF)] ?? 0) << (i * 8)
        }
        return value
    }

    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        for i in 0..<MemoryLayout<T>.size {
            let byte = address + UInt64(i)
            pages[byte >> 12, default: [UInt8](repeating: 0, count: 4096)][Int(byte & 0xFFF)] =
                UInt8(truncatingIfNeeded: value >> (i * 8))
        }
    }

    func bytes(at address: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { load(UInt8.self, at: address + UInt64($0)) }
    }
}

enum Fixture {
    static let hypervisorRegion = PhysicalRange(start: 0x20_0000, end: 0x140_0000)

    /// What Bochs's BIOS reports for a 512 MiB machine (rombios32 e820):
    /// low RAM to 0x9F000, EBDA, the BIOS area, RAM to the ACPI tables at
    /// the top, the BIOS ROM below 4 GiB.
    static func bochsMap(megabytes: UInt64 = 512, reservingHypervisor: Bool = true) throws -> PhysicalMemoryMap {
        let top = megabytes << 20
        let map = try PhysicalMemoryMap(e820: [
            E820Entry(base: 0, length: 0x9_F000, type: .usable),
            E820Entry(base: 0x9_F000, length: 0x1000, type: .reserved),
            E820Entry(base: 0xE_8000, length: 0x1_8000, type: .reserved),
            E820Entry(base: 0x10_0000, length: top - 0x10_0000 - 0x1_0000, type: .usable),
            E820Entry(base: top - 0x1_0000, length: 0x1_0000, type: .acpiReclaimable),
            E820Entry(base: 0xFFFC_0000, length: 0x4_0000, type: .reserved),
        ])
        return reservingHypervisor ? try map.reserving(hypervisorRegion) : map
    }

    /// A synthetic bzImage shaped like Debian's 6.1 kernel: setup sectors,
    /// then `payload` bytes of "protected-mode kernel".
    struct BzImage {
        var setupSects: UInt8 = 4
        var bootFlag: UInt16 = 0xAA55
        var magic: UInt32 = 0x5372_6448
        var version: UInt16 = 0x020F
        var loadFlags: UInt8 = 0x01
        var xloadflags: UInt16 = 0x7F
        var initrdAddrMax: UInt32 = 0x7FFF_FFFF
        var kernelAlignment: UInt32 = 0x20_0000
        var relocatable: UInt8 = 1
        var minAlignment: UInt8 = 21
        var cmdlineSize: UInt32 = 2047
        var prefAddress: UInt64 = 0x100_0000
        var initSize: UInt32 = 0x400_0000
        var jumpOffset: UInt8 = 0x6A
        var payload = 0x2000

        var bytes: [UInt8] {
            var image = [UInt8](repeating: 0, count: (Int(setupSects == 0 ? 4 : setupSects) + 1) * 512 + payload)
            func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
                for i in 0..<MemoryLayout<T>.size { image[offset + i] = UInt8(truncatingIfNeeded: value >> (i * 8)) }
            }
            typealias O = LinuxSetupHeader.Offset
            put(setupSects, O.setupSects)
            put(bootFlag, O.bootFlag)
            put(UInt8(0xEB), O.jump)
            put(jumpOffset, O.jump + 1)
            put(magic, O.header)
            put(version, O.version)
            put(loadFlags, O.loadFlags)
            put(xloadflags, O.xloadflags)
            put(initrdAddrMax, O.initrdAddrMax)
            put(kernelAlignment, O.kernelAlignment)
            put(relocatable, O.relocatableKernel)
            put(minAlignment, O.minAlignment)
            put(cmdlineSize, O.cmdlineSize)
            put(prefAddress, O.prefAddress)
            put(initSize, O.initSize)
            put(UInt32(0x10_0000), O.code32Start)
            // Recognisable protected-mode bytes.
            for i in 0..<payload { image[(Int(setupSects == 0 ? 4 : setupSects) + 1) * 512 + i] = UInt8(truncatingIfNeeded: i * 7 + 1) }
            return image
        }
    }

    static func parse(_ image: [UInt8]) throws(LinuxBootError) -> LinuxSetupHeader {
        var result: Result<LinuxSetupHeader, LinuxBootError>!
        image.withUnsafeBytes { bytes in
            do throws(LinuxBootError) { result = .success(try LinuxSetupHeader(parsing: bytes)) } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    static func plan(
        _ image: [UInt8], initrd: UInt64 = 0x20_0000, commandLine: Int = 20,
        map: PhysicalMemoryMap? = nil, mode: LinuxEntryMode = .bits64
    ) throws -> LinuxBootPlan {
        try LinuxBootPlan(
            header: parse(image), imageSize: image.count, initrdSize: initrd, commandLineLength: commandLine,
            memoryMap: map ?? bochsMap(), entryMode: mode)
    }
}

/// Where the real Debian bzImage is: `PXHV_KERNEL`, else
/// `<package>/.build/kernel-cache/vmlinuz` (filled by hand or CI:
/// `apt-get download` of linux-image-amd64's dependency), else the kernel
/// `swift package run-bochs` fetched into `<package>/.build/pxhv/cache`.
enum RealKernel {
    static var path: String {
        if let path = ProcessInfo.processInfo.environment["PXHV_KERNEL"] { return path }
        // #filePath is <package>/Tests/LoaderTests/LinuxTestSupport.swift.
        var package = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { package.deleteLastPathComponent() }
        let cache = package.appendingPathComponent(".build/kernel-cache/vmlinuz").path
        if FileManager.default.fileExists(atPath: cache) { return cache }
        let fetched = package.appendingPathComponent(".build/pxhv/cache")
        let kernels = ((try? FileManager.default.contentsOfDirectory(atPath: fetched.path)) ?? [])
            .filter { $0.hasPrefix("vmlinuz-") }.sorted()
        return kernels.last.map { fetched.appendingPathComponent($0).path } ?? cache
    }

    static var bytes: [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

    /// True when the kernel is there, or when PXHV_REQUIRE_E2E=1 (then a
    /// missing kernel fails the test instead of skipping it).
    static var available: Bool {
        if FileManager.default.fileExists(atPath: path) { return true }
        if ProcessInfo.processInfo.environment["PXHV_REQUIRE_E2E"] == "1" { return true }
        print("pxhv-test: skipping real-kernel tests: no bzImage at \(path) (set PXHV_KERNEL, or put Debian's vmlinuz there; PXHV_REQUIRE_E2E=1 fails instead)")
        return false
    }
}
