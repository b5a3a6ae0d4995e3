import BIOSServices
import FuzzSupport
import Primitives

/// The INT 13h disk service (Sources/BIOSServices) on what a real-mode
/// guest hands it: its registers, its buffers and EDD packets in guest
/// memory, a sequence of calls on one image. The image is the user's, the
/// registers and memory the guest's.
///
/// Input: image size selector (u8: a floppy geometry, a small hard disk,
/// or a size that must be refused), drive (u8), then calls of 28 bytes
/// each (EAX EBX ECX EDX ESI EDI, DS, ES); the guest's memory is the
/// first 4 KiB of the input placed at 0x7000 and again at 0x10000.
func fuzzINT13(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let sizes = [163_840, 184_320, 327_680, 368_640, 737_280, 1_228_800, 1_474_560, 2_949_120, 4_194_304, 512, 1_000_000]
    let imageSize = sizes[Int(input.take(UInt8.self)) % sizes.count]
    let drive = input.take(UInt8.self)
    let geometry: DiskGeometry
    do throws(DiskGeometryError) {
        geometry = try DiskGeometry(imageSize: imageSize)
    } catch {
        _ = error.message
        return 0
    }
    fuzzCheck(geometry.totalSectors * UInt64(DiskGeometry.bytesPerSector) == UInt64(imageSize), "geometry \(geometry) for \(imageSize) bytes")
    let image = UnsafeMutableRawBufferPointer.allocate(byteCount: imageSize, alignment: 16)
    defer { image.deallocate() }
    image.initializeMemory(as: UInt8.self, repeating: 0xE5)
    var memory = SparseMemory()
    let page = Array(input.take(count: 4096))
    memory.place(page, at: 0x7000)
    memory.place(page, at: 0x10000)
    var service = INT13Service(floppyCount: 1, hardDiskCount: 1, disketteParameterTable: FarPointer(segment: 0xF000, offset: 0xEFC7))
    while input.remaining >= 28 {
        var registers = BIOSRegisters()
        registers.eax = input.take(UInt32.self)
        registers.ebx = input.take(UInt32.self)
        registers.ecx = input.take(UInt32.self)
        registers.edx = input.take(UInt32.self)
        registers.esi = input.take(UInt32.self)
        registers.edi = input.take(UInt32.self)
        registers.ds = input.take(UInt16.self)
        registers.es = input.take(UInt16.self)
        let function = registers.ah
        service.handle(registers: &registers, drive: drive, image: image, geometry: geometry, memory: &memory)
        // An error is CF set with a nonzero status in AH, and that status
        // is what AH=01h reports next (AH=01h leaves it as it was; AH=15h
        // and 41h answer in AH on success: a drive type, the EDD version).
        if registers.carry {
            fuzzCheck(registers.ah != 0, "AH=\(function): CF set with status 0")
            if function != 0x01 {
                fuzzCheck(service.lastStatus(drive: drive) == registers.ah, "AH=\(function): last status \(service.lastStatus(drive: drive)), AH \(registers.ah)")
            }
        } else if function != 0x01 && function != 0x15 && function != 0x41 {
            fuzzCheck(registers.ah == 0, "AH=\(function): CF clear but AH \(registers.ah)")
        }
    }
    return 0
}
