import BIOSServices
import EPT
import Loader
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// Boots the payload's disk image (`--guest bios`, `--guest freedos`) the
/// way a PC boots: its first sector at 0:7C00 in real mode, DL = its drive
/// number, on the machine's own BIOS (IVT, BDA, EBDA, video BIOS and option
/// ROMs as the firmware left them), with interrupts on.
///
/// The disk is the payload's copy, in hypervisor memory: the guest reaches
/// it only through INT 13h, which pxHV hooks with a small real-mode handler
/// (Sources/X86/bios_stub.S) at the top of base memory. The handler calls
/// the hypervisor (hypercall 10) for the image's drive and for INT 15h
/// E820/E801/88h, and chains everything else to the BIOS. The guest is told
/// base memory ends below the handler and the AP trampoline (BDA 40:13h,
/// which the BIOS's INT 12h reads), and its E820 holds neither those pages
/// nor the hypervisor.
struct BIOSGuest {
    /// Where a PC loads the boot sector, and the stack it gets (below it).
    static let bootSectorAddress: UInt64 = 0x7C00
    /// The IVT vectors pxHV hooks, and the one it reads: the diskette
    /// parameter table (INT 1Eh) that INT 13h AH=08h returns for a floppy.
    static let int13Vector: UInt64 = 0x13 * 4
    static let int15Vector: UInt64 = 0x15 * 4
    static let disketteParameterVector: UInt64 = 0x1E * 4
    /// BDA: equipment word (bit 0 floppies present, bits 7:6 their count
    /// - 1) and the number of hard disks (RBIL MEMORY.LST, 40:10h, 40:75h).
    static let equipmentWord: UInt64 = 0x410
    static let hardDiskCount: UInt64 = 0x475

    /// What `prepare` set up: the start state's inputs.
    struct Prepared {
        let drive: UInt8
    }

    /// Installs the handler, lowers base memory, makes the disk's drive
    /// known to the BIOS data area, loads the boot sector; nil without a
    /// disk image in the payload. A disk the services cannot serve is a
    /// `pxhv: error:` and a halt (the image builder refuses it first).
    static func prepare(
        manifest: PayloadManifest, platform: Platform, hidden: PhysicalRange, backend: VirtualizationBackend,
        memory: IdentityMemory
    ) -> Prepared? {
        guard let entry = manifest.entry(.diskImage) else { return nil }
        let drive = UInt8(truncatingIfNeeded: entry.flags)
        let image = UnsafeMutableRawBufferPointer(
            start: memory.pointer(manifest.loadAddress + entry.offset), count: Int(entry.size))
        let geometry: DiskGeometry
        do {
            geometry = try DiskGeometry(imageSize: image.count)
        } catch {
            fatal("bios: the disk image: \(error.message)")
        }
        guard geometry.isFloppy == (drive < 0x80), image.count >= DiskGeometry.bytesPerSector else {
            fatal("bios: drive \(hex: drive) does not match the disk image (\(image.count) bytes)")
        }

        let low = platform.lowMemory
        let guestMap: PhysicalMemoryMap
        do {
            guestMap = try platform.map.reserving(hidden).reserving(low.reservedForBIOSGuest)
        } catch {
            fatal("bios: the guest's memory map: \(error.message)")
        }
        var ram = memory
        let chain13 = ram.load(UInt32.self, at: int13Vector)
        let chain15 = ram.load(UInt32.self, at: int15Vector)
        installHandler(at: low.handlerPage, drive: drive, chain13: chain13, chain15: chain15, backend: backend, memory: &ram)
        let biosKiB = ram.load(UInt16.self, at: LowMemoryLayout.baseMemoryWordAddress)
        ram.store(low.guestBaseMemoryKiB, at: LowMemoryLayout.baseMemoryWordAddress)

        // The BIOS must count the drive: a machine booted from USB or CD may
        // have no floppy and no hard disk it would report.
        var floppies: UInt8 = 0
        var hardDisks = ram.load(UInt8.self, at: hardDiskCount)
        var equipment = ram.load(UInt16.self, at: equipmentWord)
        if equipment & 1 != 0 { floppies = UInt8((equipment >> 6) & 3) + 1 }
        if geometry.isFloppy && floppies == 0 {
            floppies = 1
            equipment = equipment & ~0xC0 | 1
            ram.store(equipment, at: equipmentWord)
        }
        if !geometry.isFloppy && hardDisks == 0 {
            hardDisks = 1
            ram.store(hardDisks, at: hardDiskCount)
        }
        let parameterTable = ram.load(UInt32.self, at: disketteParameterVector)
        let disk = INT13Service(
            floppyCount: floppies, hardDiskCount: hardDisks,
            disketteParameterTable: FarPointer(segment: UInt16(parameterTable >> 16), offset: UInt16(truncatingIfNeeded: parameterTable)))

        ram.storeBytes(UnsafeRawBufferPointer(rebasing: image[0..<DiskGeometry.bytesPerSector]), at: bootSectorAddress)

        let map = UnsafeMutablePointer<PhysicalMemoryMap>.allocate(capacity: 1)
        map.initialize(to: guestMap)
        biosGuest = BIOSGuestState(
            services: BIOSGuestServices(drive: drive, geometry: geometry, image: image, disk: disk),
            map: UnsafePointer(map), hidden: hidden)
        console.line(
            "bios: disk image \(image.count) bytes as drive \(hex: drive) (\(geometry.isFloppy ? "floppy" : "hard disk"), C/H/S \(geometry.cylinders)/\(geometry.heads)/\(geometry.sectorsPerTrack)); INT 13h and INT 15h handler at \(hex: low.handlerPage) (chaining to \(hex: chain13 >> 16):\(hex: chain13 & 0xFFFF) and \(hex: chain15 >> 16):\(hex: chain15 & 0xFFFF)); base memory \(biosKiB) -> \(low.guestBaseMemoryKiB) KiB"
        )
        return Prepared(drive: drive)
    }

    /// Copies the handler to `page`, fills its chain vectors and drive, and
    /// points IVT 13h and 15h at it. Under AMD-V its VMCALL becomes VMMCALL.
    static func installHandler(
        at page: UInt64, drive: UInt8, chain13: UInt32, chain15: UInt32, backend: VirtualizationBackend,
        memory: inout IdentityMemory
    ) {
        let size = Int(x86_bios_stub_size())
        memory.storeBytes(
            UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(x86_bios_stub_address())), count: size), at: page)
        memory.store(chain13, at: page + UInt64(BIOS_STUB_CHAIN13))
        memory.store(chain15, at: page + UInt64(BIOS_STUB_CHAIN15))
        memory.store(drive, at: page + UInt64(BIOS_STUB_DRIVE))
        if case .svm = backend {
            memory.store(UInt8(0xD9), at: page + x86_bios_stub_hypercall_offset() + 2)
        }
        let segment = UInt32(page >> 4) << 16
        memory.store(segment | UInt32(BIOS_STUB_INT13), at: int13Vector)
        memory.store(segment | UInt32(x86_bios_stub_int15_offset()), at: int15Vector)
    }

    static func run<Backend: GuestBackend>(
        _ prepared: Prepared, backend: Backend, platform: inout Platform, memory: IdentityMemory
    ) {
        var guest = VMCSGuestState.realMode(cs: 0, ip: UInt16(bootSectorAddress), ss: 0, sp: UInt16(bootSectorAddress))
        guest.rflags = [.reserved1, .interruptEnable]
        var session = backend.makeSession(platform: &platform, memory: memory)
        session.dispatcher.biosServicesEnabled = true
        var vcpu: Backend.Session.CPU
        do {
            vcpu = try session.makeVCPU(guest: guest, longModeGuest: false, vpid: 1, platform: &platform, memory: memory)
        } catch {
            fatal("bios: the guest cannot start: \(error.message)")
        }
        vcpu.registers.rdx = UInt64(prepared.drive)
        console.line("bios: launching the guest at 0000:7c00 (DL=\(hex: prepared.drive))")
        console.screenBelongsToGuest = true
        session.run(&vcpu)
        console.screenBelongsToGuest = false
        if session.checks.total > 0 {
            console.line(session.checks.resultLine)
            session.checks.forEachFailedLine { console.line($0) }
        }
        reportServices()
        session.reportExits()
    }

    /// The BIOS services the guest called: INT 13h by function, INT 15h.
    static func reportServices() {
        guard let state = biosGuest else { return }
        let services = state.services
        console.write("pxhv: bios: INT 13h calls \(services.diskCalls) (\(services.diskErrors) failed)")
        var separator: StaticString = ": "
        for function in 0..<256 where services.diskFunctions[function] != 0 {
            console.write("\(separator)AH=\(hex: function) \(services.diskFunctions[function])")
            separator = ", "
        }
        console.write("; INT 15h memory calls \(services.memoryCalls)\n")
    }

    /// Hypercall 10: serves the call whose frame is at `frame`; RAX.
    @inline(never)
    static func serve(frame: UInt64) -> UInt64 {
        guard let state = biosGuest else { return Hypercall.failure }
        var memory = GuestBIOSMemory(ram: GuestRAMReference(map: state.map, hidden: state.hidden))
        let served = biosGuest!.services.serve(frame: frame, map: state.map, memory: &memory)
        return served ? Hypercall.done : Hypercall.failure
    }
}

/// The BIOS guest's disk and memory services and the map they answer from.
struct BIOSGuestState {
    var services: BIOSGuestServices
    /// The guest's memory map (allocated once at prepare).
    let map: UnsafePointer<PhysicalMemoryMap>
    let hidden: PhysicalRange
}

/// The BIOS guest of this boot (hypercall 10 reaches it from the exit path).
nonisolated(unsafe) var biosGuest: BIOSGuestState?

/// Guest RAM as the BIOS services read and write it: usable RAM of the
/// guest's map, never hypervisor memory (`GuestRAMReference`).
struct GuestBIOSMemory: BIOSMemory {
    let ram: GuestRAMReference
    var identity = IdentityMemory()

    func isAccessible(at address: UInt64, count: UInt64) -> Bool { ram.isReadable(at: address, count: count) }
    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T { identity.load(type, at: address) }
    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) { identity.store(value, at: address) }
    mutating func storeBytes(_ bytes: UnsafeRawBufferPointer, at address: UInt64) { identity.storeBytes(bytes, at: address) }
}
