import EPT
import Loader
import Primitives
import SVMCore
import VMXCore
import X86

/// pxHV's version, printed in the first line.
let pxhvVersion: StaticString = "0.1.0"

/// Stage 2 jumps to `_start` (Sources/X86/entry.S), which calls this with
/// the BootInfo address stage 2 filled in (Boot/layout.inc).
///
/// Nothing here trusts its input before checking it: the boot info, then the
/// payload manifest and checksums, then the CPU's VMX support. Every failure
/// prints one `pxhv: error:` line and halts with interrupts off.
@_cdecl("hv_main")
func hvMain(_ bootInfoAddress: UInt64) {
    Timeline.noteEntry()
    console.configure()
    console.line("pxHV \(pxhvVersion) booting")
    x86_install_descriptor_tables()
    console.line("cpu: GDT \(hex: x86_sgdt().base) IDT \(hex: x86_sidt().base) limit \(x86_sidt().limit) TR \(hex: x86_str()) TSS \(hex: x86_tss_base())")
    let memory = IdentityMemory()

    let boot: BootInfo
    do {
        boot = try BootInfo(loadingFrom: memory, at: bootInfoAddress)
    } catch {
        fatal("\(error.message)")
    }
    Timeline.noteStages(boot.stageTimes)
    console.line(
        "boot: \(boot.isCDBoot ? "CD (El Torito)" : "disk") drive \(hex: boot.bootDrive), \(boot.bytesPerSector)-byte sectors, payload \(boot.payloadSize) bytes at \(hex: boot.payloadBase)"
    )

    let manifest = verifyPayload(boot, memory: memory)
    var platform = Platform(boot: boot, manifest: manifest, memory: memory)
    _ = HostIsolation.switchPageTables(platform: &platform, memory: memory)
    if let hypervisor = manifest.entry(.hypervisor), hypervisor.flags & PayloadEntry.directBootFlag != 0,
        let prepared = LinuxGuest.prepare(
            manifest: manifest, hidden: platform.hiddenFromGuests, map: platform.map, smp: false, memory: memory)
    {
        LinuxGuest.runDirect(prepared)
    }

    let backend: VirtualizationBackend
    do {
        backend = try VirtualizationBackend.choose(cpuid: HardwareCPUID(), msrs: HardwareMSRs())
    } catch {
        fatal("\(error.message)")
    }
    hypervisorBackend = backend
    switch backend {
    case .vmx: runOnVMX(manifest: manifest, platform: &platform, memory: memory)
    case .svm: runOnSVM(manifest: manifest, platform: &platform, memory: memory)
    }
    console.line(
        "heap: \(x86_heap_used()) of \(x86_heap_size()) bytes used (at most \(x86_heap_peak_live()) live, \(x86_heap_total_allocated()) allocated in all); stack: \(stackHighWater()) of \(x86_stack_top() - x86_stack_bottom()) bytes used")
    platform.powerOff()
}

/// The backend `hvMain` chose (application processors park by it).
nonisolated(unsafe) var hypervisorBackend = VirtualizationBackend.vmx

/// VT-x: VMX root operation, the APs parked in it, the EPT, the guests,
/// VMXOFF.
func runOnVMX(manifest: PayloadManifest, platform: inout Platform, memory: IdentityMemory) {
    let root: VMXRoot
    do {
        root = try VMXRoot.enter(allocator: &platform.allocator, memory: memory)
    } catch {
        fatal("\(error.message)")
    }
    Timeline.noteVMXON()
    console.line("vmx: VMXON ok (revision \(hex: root.capabilities.basic.revisionID))")
    root.capabilities.report { console.line($0) }
    Processors.startAll(platform: &platform, memory: memory)
    let guestMemory = GuestPhysicalMemory(platform: &platform, capabilities: root.capabilities, memory: memory)
    Timeline.noteGuestMemory()
    runPanicTests(manifest)
    if manifest.entry(.hostileGuest) != nil {
        HostileSuite.run(
            manifest: manifest, backend: VMXBackend(root: root, guestMemory: guestMemory), platform: &platform,
            memory: memory)
    }
    runGuests(manifest: manifest, backend: VMXBackend(root: root, guestMemory: guestMemory), hidden: guestMemory.hidden,
              platform: &platform, memory: memory)
    do {
        try root.leave()
    } catch {
        fatal("\(error.message)")
    }
    console.line("vmx: VMXOFF ok")
}

/// The test guests, then Linux, then a BIOS guest, on either backend.
func runGuests<Backend: GuestBackend>(
    manifest: PayloadManifest, backend: Backend, hidden: PhysicalRange, platform: inout Platform,
    memory: IdentityMemory
) {
    if manifest.entry(.testGuest) != nil {
        TestGuests.runAll(manifest: manifest, backend: backend, platform: &platform, memory: memory)
    }
    // SMP Linux with the xAPIC (whose page the hypervisor traps).
    let smp = !LocalAPIC.current().isX2APIC
    if let prepared = LinuxGuest.prepare(manifest: manifest, hidden: hidden, map: platform.map, smp: smp, memory: memory) {
        LinuxGuest.run(prepared, backend: backend, platform: &platform, memory: memory)
    }
    if let prepared = BIOSGuest.prepare(
        manifest: manifest, platform: platform, hidden: hidden, backend: hypervisorBackend, memory: memory)
    {
        BIOSGuest.run(prepared, backend: backend, platform: &platform, memory: memory)
    }
    if manifest.entry(.multibootKernel) != nil {
        MultibootGuest.run(manifest: manifest, backend: backend, hidden: hidden, platform: &platform, memory: memory)
    }
}

/// The panic-path tests `build-image` can ask for (flags of the
/// hypervisor's manifest entry), in root operation before any guest.
func runPanicTests(_ manifest: PayloadManifest) {
    if let hypervisor = manifest.entry(.hypervisor), hypervisor.flags & PayloadEntry.panicTestFlag != 0 {
        console.line("panic test: executing UD2 in VMX root operation")
        x86_ud2()
    }
    if let hypervisor = manifest.entry(.hypervisor), hypervisor.flags & PayloadEntry.stackOverflowTestFlag != 0 {
        console.line("panic test: recursing until the stack overflows")
        _ = overflowStack(depth: 0)
    }
    if let hypervisor = manifest.entry(.hypervisor), hypervisor.flags & PayloadEntry.heapExhaustionTestFlag != 0 {
        console.line("panic test: allocating until the heap is exhausted")
        exhaustHeap()
    }
}

/// Checks the manifest and the CRC-32 of every entry but the hypervisor's
/// own (stage 2 checked that one before jumping to it) before anything in
/// the payload is used.
func verifyPayload(_ boot: BootInfo, memory: IdentityMemory) -> PayloadManifest {
    let payload = UnsafeRawBufferPointer(start: memory.pointer(boot.payloadBase), count: Int(boot.payloadSize))
    do {
        let manifest = try PayloadManifest.validate(
            payload, expectedLoadAddress: BootLayout.payloadBase, skippingHypervisor: true)
        console.write("pxhv: payload: manifest v\(manifest.version) ok, checksums ok:")
        for (index, entry) in manifest.entries.enumerated() {
            console.write("\(index == 0 ? " " : ", ")\(entry.kind.name) \(entry.size) bytes")
        }
        console.write("\n")
        return manifest
    } catch {
        fatal("\(error.message)")
    }
}

/// The stack-overflow test: 1 KiB more stack per call (the most that
/// `withUnsafeTemporaryAllocation` always takes from the stack), forever
/// (the CR0 read keeps the compiler from proving it and making a loop).
@inline(never)
func overflowStack(depth: UInt64) -> UInt64 {
    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 128) { frame in
        frame.initialize(repeating: depth)
        return x86_read_cr0() != 0 ? overflowStack(depth: depth + 1) &+ frame[127] : frame[0]
    }
}

/// The heap-exhaustion test: 1 KiB arrays, kept, until the heap runs out.
func exhaustHeap() {
    var kept: [[UInt8]] = []
    while x86_read_cr0() != 0 {
        kept.append([UInt8](repeating: 0x78, count: 1024))
    }
    console.line("panic test: \(kept.count) arrays: the heap never ran out")
}

/// Bytes of the boot stack ever used: _start zeroed it with the rest of
/// .bss, and it grows down, so the lowest non-zero byte marks the deepest
/// point. (An overflow faults on the unmapped guard page below it.)
func stackHighWater() -> UInt64 {
    var address = x86_stack_bottom()
    let top = x86_stack_top()
    while address < top, UnsafePointer<UInt64>(bitPattern: UInt(address))!.pointee == 0 {
        address += 8
    }
    return top - address
}
