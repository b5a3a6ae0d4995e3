import BIOSServices
import EPT
import FuzzSupport
import Primitives

/// A BIOS guest's services (Sources/BIOSServices) on what a real-mode guest
/// hands them: INT 13h on one image, INT 15h E820h/E801h/88h on a guest
/// map, and the handler's register frame, a sequence of calls. The image is
/// the user's, the registers, frames and memory the guest's.
///
/// Property beyond "no crash": the services read and write only guest
/// memory they asked `isAccessible` about first (`CheckedMemory` fails on
/// any other access), and a refused call moves nothing.
///
/// Input: image size selector (u8: a floppy geometry, a small hard disk,
/// or a size that must be refused), drive (u8), the first 4 KiB of guest
/// memory (placed at 0x7000 and again at 0x10000), then calls of 29 bytes
/// each: a selector (u8: bit 0 clear INT 13h, set INT 15h; bit 1 through
/// the frame at 0x7B00), EAX EBX ECX EDX ESI EDI, DS, ES.
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
    var memory = CheckedMemory()
    let page = Array(input.take(count: 4096))
    memory.sparse.place(page, at: 0x7000)
    memory.sparse.place(page, at: 0x10000)
    let disk = INT13Service(floppyCount: 1, hardDiskCount: 1, disketteParameterTable: FarPointer(segment: 0xF000, offset: 0xEFC7))
    var services = BIOSGuestServices(drive: drive, geometry: geometry, image: image, disk: disk)
    let map = FuzzMaps.guest
    while input.remaining >= 29 {
        let selector = input.take(UInt8.self)
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
        let interrupt: UInt8 = selector & 1 == 0 ? 0x13 : 0x15
        if selector & 2 != 0 {
            // Through the frame, as the real-mode handler calls.
            let frame: UInt64 = 0x7B00
            memory.checking = false
            BIOSCallFrame.write(registers, at: frame, memory: &memory)
            memory.store(UInt16(interrupt), at: frame + 36)
            memory.checking = true
            let served = withUnsafePointer(to: map) { services.serve(frame: frame, map: $0, memory: &memory) }
            let expected = interrupt == 0x13 ? registers.dl == drive : MemoryMapService.serves(registers)
            fuzzCheck(served == expected, "INT \(interrupt) AX=\(registers.ax): served \(served), expected \(expected)")
            continue
        }
        if interrupt == 0x15 {
            guard MemoryMapService.serves(registers) else { continue }
            withUnsafePointer(to: map) { MemoryMapService.handle(registers: &registers, map: $0, memory: &memory) }
            continue
        }
        services.disk.handle(registers: &registers, drive: drive, image: image, geometry: geometry, memory: &memory)
        // An error is CF set with a nonzero status in AH, and that status
        // is what AH=01h reports next (AH=01h leaves it as it was; AH=15h
        // and 41h answer in AH on success: a drive type, the EDD version).
        if registers.carry {
            fuzzCheck(registers.ah != 0, "AH=\(function): CF set with status 0")
            if function != 0x01 {
                fuzzCheck(services.disk.lastStatus(drive: drive) == registers.ah, "AH=\(function): last status \(services.disk.lastStatus(drive: drive)), AH \(registers.ah)")
            }
        } else if function != 0x01 && function != 0x15 && function != 0x41 {
            fuzzCheck(registers.ah == 0, "AH=\(function): CF clear but AH \(registers.ah)")
        }
    }
    return 0
}

/// Guest memory for the services: conventional memory below 640 KiB and
/// 1-2 MiB are guest RAM, the rest is not (the BIOS area, the hypervisor
/// from 2 MiB). Every access must lie in a range the service asked
/// `isAccessible` about and got true: no access outside the RAM.
struct CheckedMemory: BIOSMemory {
    var sparse = SparseMemory()
    var checking = true
    static let ram: [Range<UInt64>] = [0..<0xA_0000, 0x10_0000..<0x20_0000]

    func isAccessible(at address: UInt64, count: UInt64) -> Bool {
        guard count > 0, address <= UInt64.max - count else { return false }
        return Self.ram.contains { address >= $0.lowerBound && address + count <= $0.upperBound }
    }

    func checked(_ address: UInt64, _ size: Int) {
        guard checking else { return }
        fuzzCheck(isAccessible(at: address, count: UInt64(size)), "access of \(size) bytes at \(address) outside guest RAM")
    }

    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        checked(address, MemoryLayout<T>.size)
        return sparse.load(type, at: address)
    }

    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        checked(address, MemoryLayout<T>.size)
        sparse.store(value, at: address)
    }

    mutating func storeBytes(_ bytes: UnsafeRawBufferPointer, at address: UInt64) {
        checked(address, bytes.count)
        sparse.storeBytes(bytes, at: address)
    }
}
