import EPT
import Foundation
import Testing
@testable import Loader

/// The real Debian bzImage (see `RealKernel`): skipped with a printed
/// reason when it is not there, failed when PXHV_REQUIRE_E2E=1.
@Suite(.enabled(if: RealKernel.available))
struct RealKernelTests {
    @Test func headerOfDebianKernel() throws {
        let image = try #require(RealKernel.bytes, "no bzImage at \(RealKernel.path)")
        let header = try Fixture.parse(image)
        print(
            "pxhv-test: \(RealKernel.path): \(image.count) bytes, boot protocol \(header.versionMajor).\(header.versionMinor),"
                + " setup_sects \(header.setupSectors), init_size 0x\(String(header.initSize, radix: 16)),"
                + " pref_address 0x\(String(header.prefAddress, radix: 16)),"
                + " kernel_alignment 0x\(String(header.kernelAlignment, radix: 16)), min_alignment \(header.minAlignmentShift),"
                + " cmdline_size \(header.cmdlineSize), initrd_addr_max 0x\(String(header.initrdAddrMax, radix: 16)),"
                + " xloadflags 0x\(String(header.xloadflags.rawValue, radix: 16)), header end 0x\(String(header.headerEnd, radix: 16))")
        #expect(header.version >= 0x020C)
        #expect(header.xloadflags.contains(.kernel64))
        #expect(header.isRelocatable)
        #expect(header.kernelAlignment >= 0x1000 && header.kernelAlignment & (header.kernelAlignment - 1) == 0)
        // init_size covers the compressed image and the decompressed kernel:
        // more than the file, less than 1 GiB.
        #expect(UInt64(header.initSize) > UInt64(image.count - header.protectedModeOffset))
        #expect(header.initSize < 0x4000_0000)
        #expect(header.cmdlineSize >= 255)
        #expect(header.payloadOffset > 0 && Int(header.payloadOffset + header.payloadLength) <= image.count - header.protectedModeOffset)
    }

    @Test(arguments: [LinuxEntryMode.bits64, .bits32])
    func planFor512MiBBochsGuest(mode: LinuxEntryMode) throws {
        let image = try #require(RealKernel.bytes)
        let map = try Fixture.bochsMap()
        let commandLine = Array("console=ttyS0 earlyprintk=serial,ttyS0 panic=-1".utf8)
        let plan = try Fixture.plan(image, initrd: 0x20_0000, commandLine: commandLine.count, map: map, mode: mode)
        let initrd = try #require(plan.initrd)
        for range in [plan.kernelRange, initrd, PhysicalRange(start: plan.bootParamsAddress, length: 0x1000),
                      PhysicalRange(start: plan.commandLineAddress, length: UInt64(commandLine.count + 1))] {
            #expect(!range.overlaps(Fixture.hypervisorRegion), "\(range) in the hypervisor region")
            #expect(map.contains(range, type: .usable), "\(range) not usable RAM")
        }
        #expect(!initrd.overlaps(plan.kernelRange))
        #expect(initrd.end - 1 <= UInt64(plan.header.initrdAddrMax))
        #expect(plan.loadAddress % UInt64(plan.kernelAlignment) == 0)
        print("pxhv-test: real kernel \(mode) plan: load 0x\(String(plan.loadAddress, radix: 16)), entry 0x\(String(plan.entry.instructionPointer, radix: 16)), initrd [0x\(String(initrd.start, radix: 16)), 0x\(String(initrd.end, radix: 16)))")

        var memory = PagedMemory()
        image.withUnsafeBytes { LinuxBootParams.write(for: plan, image: $0, memoryMap: map, into: &memory) }
        // Read-only header fields arrive unchanged: initrd_addr_max, and
        // relocatable_kernel up to the header's end.
        #expect(memory.bytes(at: 0x8_022C, count: 4) == Array(image[0x22C..<0x230]))
        #expect(memory.bytes(at: 0x8_0234, count: plan.header.headerEnd - 0x234) == Array(image[0x234..<plan.header.headerEnd]))
        #expect(memory.load(UInt32.self, at: 0x8_0000 + 0x202) == 0x5372_6448)
        #expect(memory.load(UInt32.self, at: 0x8_0000 + 0x260) == plan.header.initSize)
        #expect(memory.load(UInt32.self, at: 0x8_0000 + 0x214) == UInt32(plan.loadAddress))
    }
}
