import EPT
import FuzzSupport
import Loader
import Primitives

/// The Multiboot header and info (Sources/Loader/MultibootHeader.swift,
/// MultibootInfo.swift): `MultibootImage(parsing:)` (the header search,
/// the address fields or the ELF32 program headers), then `MultibootPlan`
/// with modules and command lines, then `load` when the image is small.
///
/// Input: mode byte (bit 1: guest map from the input, else a fixed 128 MiB
/// PC), command-line length u16, module count u8 (up to 63), each module's
/// size u16 and command-line length u8, [map], then the image.
let zeros = [UInt8](repeating: 0, count: 0x1_0000)
/// The hypervisor's memory in `FuzzMaps.guest` (reserved there; reserved
/// in a map from the input too, as the hypervisor does at boot).
let hypervisor = PhysicalRange(start: 0x20_0000, end: 0x80_0000)

func fuzzMultiboot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.take(UInt8.self)
    let commandLineLength = Int(input.take(UInt16.self))
    let moduleCount = Int(input.take(UInt8.self) & 0x3F)
    var moduleShapes: [(Int, Int)] = []
    for _ in 0..<moduleCount { moduleShapes.append((Int(input.take(UInt16.self)), Int(input.take(UInt8.self)))) }
    var map = FuzzMaps.guest
    if mode & 2 != 0 {
        guard let fuzzed = FuzzMaps.map(from: &input), let reserved = try? fuzzed.reserving(hypervisor) else { return 0 }
        map = reserved
    }
    let image = input.takeRest()
    let multiboot: MultibootImage
    do throws(MultibootError) {
        multiboot = try MultibootImage(parsing: image)
    } catch {
        _ = error.message
        return 0
    }
    // Parsing promises: every segment's file bytes inside the image, the
    // entry point inside a segment.
    var memorySize: UInt64 = 0
    for segment in multiboot.segments {
        fuzzCheck(segment.fileOffset + segment.fileSize <= UInt64(image.count), "segment past the file")
        fuzzCheck(segment.fileSize <= segment.memorySize, "segment file size above its memory size")
        memorySize += segment.memorySize
    }
    _ = multiboot.range
    zeros.withUnsafeBytes { zeros in
        let commandLine = UnsafeRawBufferPointer(rebasing: zeros[0..<min(commandLineLength, zeros.count)])
        let modules = moduleShapes.map { shape in
            MultibootModule(bytes: UnsafeRawBufferPointer(rebasing: zeros[0..<shape.0]),
                            commandLine: UnsafeRawBufferPointer(rebasing: zeros[0..<shape.1]))
        }
        let plan: MultibootPlan
        do throws(MultibootError) {
            plan = try MultibootPlan(
                image: multiboot, commandLine: commandLine, modules: modules, memoryMap: map,
                hypervisor: hypervisor)
        } catch {
            _ = error.message
            return
        }
        _ = plan.entry
        _ = MultibootPlan.memorySizes(map)
        // Every place the plan writes: usable RAM, clear of the image, of
        // each other and of the hypervisor.
        var written = [plan.bootInformation]
        for module in plan.modules { written.append(module) }
        for (index, range) in written.enumerated() {
            fuzzCheck(map.contains(range, type: .usable), "module or boot information outside usable RAM")
            fuzzCheck(!range.overlaps(hypervisor), "module or boot information in hypervisor memory")
            fuzzCheck(!range.overlaps(multiboot.range), "module or boot information over the image")
            for other in written[(index + 1)...] where range.overlaps(other) && !range.isEmpty && !other.isEmpty {
                fuzzCheck(false, "two modules or a module and the boot information overlap")
            }
        }
        // Loading writes every byte of the image: only for small ones.
        guard memorySize <= 0x4_0000 else { return }
        var memory = SparseMemory()
        memory.place([UInt8](repeating: 0, count: Int(plan.bootInformation.length)), at: plan.bootInformation.start)
        plan.load(imageBytes: image, commandLine: commandLine, modules: modules, memoryMap: map, into: &memory)
    }
    return 0
}
