import EPT
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// AMD-V: where a CPU takes its NMIs. The host runs with GIF = 0 and never
/// sets it: with GIF = 1 an INIT a guest aimed at this CPU (through the
/// I/O APIC, say) would reset it, and it would then wait for a STARTUP
/// outside SVM. So NMIs are taken in a guest of the CPU's own: real-mode
/// code in the trampoline page (`ap_trampoline.S`, `SVM_PARK_*`), no nested
/// paging, INIT and SHUTDOWN intercepted, NMIs not: each arrives through
/// that guest's IVT, is counted in its stack page and reported with
/// VMMCALL.
///
/// Two uses:
/// - `halt`: a parked AP (and an AP's vCPU waiting for its guest's
///   STARTUP) sleeps here until an NMI: the boot CPU's probe or request,
///   a stop, a STARTUP.
/// - `report`: after an NMI intercept of a vCPU (an SMP guest's: its
///   kicks must exit), the NMI is still pending (AMD APM Vol. 2, "NMI
///   Intercept": the intercept exits before the NMI is taken); one VMRUN
///   here takes it and reports at once.
///
/// One VMCB and one stack page per CPU; the code page is shared (it is read
/// only; the count lives in each CPU's stack). ASID `asid` is used by no
/// vCPU, so the park guest's untranslated TLB entries never serve a
/// guest's accesses.
struct SVMParkGuest {
    enum Entry: UInt64 {
        case halt = 0  // SVM_PARK_HALT
        case report = 1  // SVM_PARK_REPORT
    }

    enum Exit: Equatable {
        /// VMMCALL: the NMIs taken since the last report (0 when a report
        /// found none pending).
        case nmis(UInt64)
        /// An INIT, intercepted: dropped by every caller.
        case initSignal
        /// Anything else (a triple fault: SHUTDOWN): this exit code.
        case fault(UInt64)
    }

    /// ASIDs 1 ... cpus are the vCPUs' (cpu number + 1).
    static func asid(_ capabilities: SVMCapabilities) -> UInt32 { max(capabilities.asidCount, 2) - 1 }

    let vmcbAddress: UInt64
    let hostState: UInt64
    let stack: UInt64

    /// Writes the park guest's VMCB at `vmcb` (a zeroed page), its stack
    /// `stack` (a page, zeroed here), the code in the trampoline page.
    init(vmcb: UInt64, stack: UInt64, hostState: UInt64, asid: UInt32) {
        vmcbAddress = vmcb
        self.hostState = hostState
        self.stack = stack
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(stack))!.initialize(repeating: 0, count: 512)
        let page = Processors.trampolinePage.start
        var vmcb = VMCBPage(UnsafeMutableRawPointer(bitPattern: UInt(vmcb))!)
        vmcb.zero()
        vmcb.write(VMCB.interceptVector3, SVMInterceptVector3([.initSignal, .shutdown]).rawValue)
        vmcb.write(VMCB.interceptVector4, SVMInterceptVector4([.vmrun, .vmmcall]).rawValue)
        vmcb.write(VMCB.guestASID, asid)
        vmcb.write(VMCB.tlbControl, TLBControl.flushAll.rawValue)
        var guest = SVMGuestState(
            VMCSGuestState.realMode(cs: UInt16(page >> 4), ip: UInt16(SVM_PARK_OFFSET), ss: 0, sp: 0xFF0))
        guest.ss.base = stack
        guest.idtr.base = page + UInt64(SVM_PARK_OFFSET + SVM_PARK_IVT)
        guest.idtr.limit = 3 * 4 - 1
        guest.write(to: &vmcb)
    }

    /// Copies the code and its IVT (vectors 0-2) into the trampoline page
    /// (boot CPU, under AMD-V, before any CPU parks).
    static func install(at page: UnsafeMutableRawPointer, pageAddress: UInt64) {
        let code = page + Int(SVM_PARK_OFFSET)
        code.copyMemory(from: UnsafeRawPointer(bitPattern: UInt(x86_svm_park_address()))!, byteCount: Int(x86_svm_park_size()))
        let segment = UInt32(pageAddress >> 4) << 16
        let ivt = code + Int(SVM_PARK_IVT)
        let fault = segment | UInt32(SVM_PARK_OFFSET + SVM_PARK_FAULT)
        ivt.storeBytes(of: fault, toByteOffset: 0, as: UInt32.self)
        ivt.storeBytes(of: fault, toByteOffset: 4, as: UInt32.self)
        ivt.storeBytes(of: segment | UInt32(SVM_PARK_OFFSET + SVM_PARK_NMI), toByteOffset: 8, as: UInt32.self)
    }

    /// `count` NMIs the park guest took on the CPU of `state`, which waits
    /// there (parked, or for its guest's STARTUP): counted as NMIs pxHV's
    /// code answered (the boot CPU's probe reads the count), the kicks among
    /// them taken off; none is a guest's.
    static func count(_ count: UInt64, on state: UnsafeMutablePointer<x86_ap_state>) {
        _ = x86_consume_kicks(count)
        x86_store_release64(&state.pointee.nmi_count, x86_load_acquire64(&state.pointee.nmi_count) &+ count)
    }

    /// One VMRUN from `entry` to the next exit.
    func run(from entry: Entry) -> Exit {
        var vmcb = VMCBPage(UnsafeMutableRawPointer(bitPattern: UInt(vmcbAddress))!)
        vmcb.write(VMCB.rip, UInt64(SVM_PARK_OFFSET) + entry.rawValue)
        var registers = GuestRegisters()
        x86_svm_run(&registers, vmcbAddress, hostState)
        vmcb.write(VMCB.tlbControl, 0)
        switch SVMExitCode(rawValue: vmcb.read(VMCB.exitCode)) {
        case .vmmcall:
            let count = UnsafeMutablePointer<UInt16>(bitPattern: UInt(stack))!
            let nmis = UInt64(count.pointee)
            count.pointee = 0
            return .nmis(nmis)
        case .initSignal:
            return .initSignal
        default:
            return .fault(vmcb.read(VMCB.exitCode))
        }
    }
}
