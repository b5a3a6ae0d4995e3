import EPT
import FuzzSupport
import Loader
import Primitives

/// The bzImage setup header and the Linux boot plan
/// (Sources/Loader/LinuxSetupHeader.swift, LinuxBootPlan.swift,
/// LinuxBootParams.swift): `LinuxSetupHeader(parsing:)` over the image,
/// then `LinuxBootPlan` for it in a guest map, then boot_params written.
///
/// Input: mode byte (bit 0: 32-bit entry, else 64-bit; bit 1: the guest
/// map comes from the input, else a fixed 128 MiB PC; bit 2: image size
/// from the input, else the bytes given), image size u32, initrd size u64,
/// command-line length u16, [map], then the image's first bytes (padded
/// with zeros past the setup sectors when the size asks for more).
func fuzzLinux(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.take(UInt8.self)
    let declaredSize = Int(input.take(UInt32.self))
    let initrdSize: UInt64 = input.take()
    let commandLineLength = Int(input.take(UInt16.self))
    var map = FuzzMaps.guest
    if mode & 2 != 0 {
        guard let fuzzed = FuzzMaps.map(from: &input) else { return 0 }
        map = fuzzed
    }
    var image = Array(input.takeRest())
    // Setup sectors reach at most (255 + 1) * 512 bytes: pad that far at most.
    if mode & 4 != 0, declaredSize > image.count {
        image += [UInt8](repeating: 0, count: min(declaredSize, 0x2_0100) - image.count)
    }
    let imageSize = mode & 4 != 0 ? declaredSize : image.count
    image.withUnsafeBytes { bytes in
        let header: LinuxSetupHeader
        do throws(LinuxBootError) {
            header = try LinuxSetupHeader(parsing: bytes)
        } catch {
            _ = error.message
            return
        }
        fuzzCheck(header.headerEnd <= bytes.count, "header ends past the image")
        do throws(LinuxBootError) {
            let plan = try LinuxBootPlan(
                header: header, imageSize: imageSize, initrdSize: initrdSize, commandLineLength: commandLineLength,
                memoryMap: map, entryMode: mode & 1 != 0 ? .bits32 : .bits64)
            // The plan's promises: kernel and initrd in usable RAM, apart.
            fuzzCheck(map.contains(plan.kernelRange, type: .usable), "kernel outside usable RAM")
            if let initrd = plan.initrd {
                fuzzCheck(map.contains(initrd, type: .usable), "initrd outside usable RAM")
                fuzzCheck(!initrd.overlaps(plan.kernelRange), "initrd overlaps the kernel")
                fuzzCheck(initrd.end &- 1 <= UInt64(header.initrdAddrMax), "initrd above initrd_addr_max")
            }
            _ = plan.entry
            var memory = SparseMemory()
            memory.place([UInt8](repeating: 0, count: Int(LinuxBootParams.size)), at: plan.bootParamsAddress)
            LinuxBootParams.write(for: plan, image: bytes, memoryMap: map, into: &memory)
        } catch {
            _ = error.message
        }
    }
    return 0
}
