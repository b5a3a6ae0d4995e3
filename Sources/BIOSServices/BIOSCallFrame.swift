import EPT
import Primitives

/// The register frame pxHV's real-mode handler (Sources/X86/bios_stub.S)
/// builds on the caller's stack before it calls the hypervisor, and reads
/// back after: the guest's registers at its `INT`, in guest memory, so the
/// hypervisor needs no segment register or flag from the VMCS or VMCB.
///
/// Layout (the handler's pushes, lowest address first): `PUSHAD`'s EDI,
/// ESI, EBP, ESP, EBX, EDX, ECX, EAX; then ES, DS; the interrupt number;
/// and the IP, CS and FLAGS the `INT` pushed (its `IRET` returns with
/// them, so CF is written into the FLAGS image).
public enum BIOSCallFrame {
    public static let size: UInt64 = 44
    static let edi: UInt64 = 0, esi: UInt64 = 4, ebx: UInt64 = 16, edx: UInt64 = 20, ecx: UInt64 = 24, eax: UInt64 = 28
    static let es: UInt64 = 32, ds: UInt64 = 34, interrupt: UInt64 = 36, flags: UInt64 = 42

    /// The interrupt number and the registers of the frame at `address`.
    public static func read<Memory: PhysicalMemory>(at address: UInt64, memory: Memory) -> (interrupt: UInt8, registers: BIOSRegisters) {
        var r = BIOSRegisters()
        r.edi = memory.load(UInt32.self, at: address + edi)
        r.esi = memory.load(UInt32.self, at: address + esi)
        r.ebx = memory.load(UInt32.self, at: address + ebx)
        r.edx = memory.load(UInt32.self, at: address + edx)
        r.ecx = memory.load(UInt32.self, at: address + ecx)
        r.eax = memory.load(UInt32.self, at: address + eax)
        r.es = memory.load(UInt16.self, at: address + es)
        r.ds = memory.load(UInt16.self, at: address + ds)
        r.carry = memory.load(UInt16.self, at: address + flags) & 1 != 0
        return (UInt8(truncatingIfNeeded: memory.load(UInt16.self, at: address + interrupt)), r)
    }

    /// Writes `r` back into the frame at `address` (EBP, ESP, the
    /// interrupt number, IP and CS unchanged; only CF of FLAGS).
    public static func write<Memory: PhysicalMemory>(_ r: BIOSRegisters, at address: UInt64, memory: inout Memory) {
        memory.store(r.edi, at: address + edi)
        memory.store(r.esi, at: address + esi)
        memory.store(r.ebx, at: address + ebx)
        memory.store(r.edx, at: address + edx)
        memory.store(r.ecx, at: address + ecx)
        memory.store(r.eax, at: address + eax)
        memory.store(r.es, at: address + es)
        memory.store(r.ds, at: address + ds)
        let oldFlags = memory.load(UInt16.self, at: address + flags)
        memory.store(r.carry ? oldFlags | 1 : oldFlags & ~1, at: address + flags)
    }
}

/// Everything pxHV serves a BIOS guest: its disk (INT 13h for one drive
/// number) and the memory map (INT 15h E820/E801/88h). One per BIOS guest;
/// called from the exit path for hypercall 10 with the frame's address.
public struct BIOSGuestServices {
    public let drive: UInt8
    public let geometry: DiskGeometry
    /// The disk image, in hypervisor memory (writes change it).
    public let image: UnsafeMutableRawBufferPointer
    public var disk: INT13Service
    /// Calls served, by interrupt (13h, 15h), for the report.
    public private(set) var diskCalls: UInt64 = 0
    public private(set) var memoryCalls: UInt64 = 0
    /// Disk calls that returned an error (CF set).
    public private(set) var diskErrors: UInt64 = 0
    /// INT 13h calls by function (AH), for the report.
    public private(set) var diskFunctions = InlineArray<256, UInt32>(repeating: 0)

    public init(drive: UInt8, geometry: DiskGeometry, image: UnsafeMutableRawBufferPointer, disk: INT13Service) {
        self.drive = drive
        self.geometry = geometry
        self.image = image
        self.disk = disk
    }

    /// Serves the call whose frame is at guest-physical `frame`: false (and
    /// nothing done) when the frame is not guest RAM or names an interrupt
    /// or a drive this does not serve (the handler only calls for those).
    public mutating func serve<Memory: BIOSMemory>(
        frame: UInt64, map: UnsafePointer<PhysicalMemoryMap>, memory: inout Memory
    ) -> Bool {
        guard memory.isAccessible(at: frame, count: BIOSCallFrame.size) else { return false }
        var (interrupt, r) = BIOSCallFrame.read(at: frame, memory: memory)
        switch interrupt {
        case 0x13 where r.dl == drive:
            diskCalls += 1
            diskFunctions[Int(r.ah)] &+= 1
            disk.handle(registers: &r, drive: drive, image: image, geometry: geometry, memory: &memory)
            if r.carry { diskErrors += 1 }
        case 0x15 where MemoryMapService.serves(r):
            memoryCalls += 1
            MemoryMapService.handle(registers: &r, map: map, memory: &memory)
        default:
            return false
        }
        BIOSCallFrame.write(r, at: frame, memory: &memory)
        return true
    }
}
