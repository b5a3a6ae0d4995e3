import EPT
import Primitives
import VMXCore

/// Counts every exit and sends its event to the policy for its family.
///
/// One per vCPU, generic over the CPUID table so the hypervisor's
/// `Dispatcher<CPUIDCache>` is fully specialized. `handle` is
/// allocation-free (a test measures it): the statistics, the pending
/// hypercall-5 expectation and the scratch buffers are fixed-size values.
///
/// Per exit, the backend does (VMX):
///
///     // fast path: for CPUID, VMCALL, RDMSR and I/O exits, try the quick
///     // entry (quickCPUID, quickVMCALL, quickMSRRead, quickIO); if it
///     // answered: RIP += instruction length, VMRESUME. Otherwise:
///     // registers.rsp = vmread(0x681C), for control-register accesses only
///     let event = ExitEvent.fromVMX(VMExit.decode(vmcs), registers: registers)
///     let action = dispatcher.handle(event, registers: &registers, vcpu: vmcs,
///                                    memory: guestMemory, console: &console, checks: &checks)
///     // then carry out `action` (see ExitAction), VMRESUME or end the guest
///
/// No copies on the exit path: the dispatcher holds its tables (CPUID
/// cache, MTRRs, statistics) by value, and Swift 6.3 copies a struct on
/// entry to a non-mutating method that reads an element of a large
/// `InlineArray` in it (DESIGN.md). So the entries are mutating and inlined
/// into the backend (which holds the dispatcher `inout` or by pointer), the
/// CPUID table, the MSR policy and the counters are read through pointers
/// to these very fields, and the small policy readers are inlined. Tests of
/// the built image check the stack frames of the exit path (a copied table
/// would show there) and that the fast handler stays call-free.
public struct Dispatcher<Table: CPUIDTable> {
    public internal(set) var statistics = ExitStatistics()
    /// `var` only so the exit path can read it in place (`withUnsafePointer`).
    public private(set) var cpuid: Table
    public var io: IOPolicy
    public var msr: MSRPolicy
    public var controlRegisters: ControlRegisterPolicy
    /// PCI configuration ports (0xCF8, 0xCFC-0xCFF): writes that would move
    /// the ACPI PM block are dropped.
    public var pciConfig = PCIConfigPolicy()
    public var nestedPageFaults: NestedPageFaultPolicy
    /// XCR0 bits the processor supports: CPUID.(0xD,0) EDX:EAX (0 without XSAVE).
    public let supportedXCR0: UInt64
    /// The XCR0 the guest last loaded with a valid XSETBV (1 after reset).
    public private(set) var guestXCR0: UInt64 = XSETBVPolicy.resetXCR0
    /// Hypercalls 6-8 (the hostile-guest harness) are answered only when
    /// this is true; otherwise they fail like unknown functions.
    public var harnessEnabled = false
    /// Hypercall 10 (a BIOS guest's disk and memory-map services) is
    /// answered only when this is true: for a BIOS guest.
    public var biosServicesEnabled = false
    /// This vCPU is an application processor's: an INIT signal takes it
    /// out of the guest to wait for a start-up IPI, as on bare metal, and
    /// HLT with interrupts off halts it (the boot CPU's guest ends there).
    /// Otherwise (the boot CPU) an INIT ends the guest. A start-up IPI exit
    /// is unhandled either way: no vCPU runs in the wait-for-SIPI activity
    /// state, the only one that takes a SIPI (an AP waits for the guest's
    /// STARTUP in VMX root: `StartupMailbox`).
    public var isApplicationProcessor = false
    /// HLT exits so far (also in `statistics`).
    public var haltCount: UInt64 { statistics[.hlt] }

    var expectation = StopExpectation()

    public init(cpuid: Table, io: IOPolicy, msr: MSRPolicy = MSRPolicy(),
                controlRegisters: ControlRegisterPolicy = ControlRegisterPolicy(),
                nestedPageFaults: NestedPageFaultPolicy) {
        self.cpuid = cpuid
        self.io = io
        self.msr = msr
        self.controlRegisters = controlRegisters
        self.nestedPageFaults = nestedPageFaults
        let features = CPUIDFeaturesECX(rawValue: cpuid.lookup(leaf: CPUIDFeaturesECX.leaf, subleaf: 0).ecx)
        if features.contains(.xsave) {
            let xsave = cpuid.lookup(leaf: 0xD, subleaf: 0)
            supportedXCR0 = UInt64(xsave.edx) << 32 | UInt64(xsave.eax)
        } else {
            supportedXCR0 = 0
        }
    }

    /// CPUID answers with `cpu`'s APIC IDs (`CPUIDCache.adoptProcessorIDs`).
    public mutating func adoptProcessorIDs<C: CPUIDAccess>(of cpu: C) where Table == CPUIDCache {
        cpuid.adoptProcessorIDs(of: cpu)
    }

    /// Counts `event`, runs its policy and returns what the backend does.
    /// Register results (CPUID, RDMSR, IN 0xE9, hypercalls) are written into
    /// `registers`. A `stopGuest` resolves a pending hypercall-5 expectation
    /// (PASS unless the stop is the guest's own power-off).
    ///
    /// The frequent exits (CPUID, VMCALL, RDMSR, port I/O) each have their
    /// own entry (`handleCPUID`, `handleVMCALL`, `handleMSRRead`,
    /// `handleIO`), which a backend's fast path calls directly once it knows
    /// the exit's reason; `handle` routes to them, and every other event to
    /// `handleOther`, out of line. The split is for the optimizer: Swift
    /// inlines an `@inline(__always)` function of more than 64 blocks only
    /// into a caller of fewer than 64, so each route stays small.
    @inline(__always)
    public mutating func handle<Memory: GuestMemory, Console: HypervisorConsole, Checks: CheckRecorder, VCPU: GuestStateSource>(
        _ event: ExitEvent, registers: inout GuestRegisters, vcpu: VCPU, memory: Memory,
        console: inout Console, checks: inout Checks
    ) -> ExitAction {
        switch event {
        case .cpuid(let leaf, let subleaf):
            return handleCPUID(leaf: leaf, subleaf: subleaf, registers: &registers, vcpu: vcpu)
        case .hypercall:
            return handleVMCALL(registers: &registers, vcpu: vcpu, memory: memory, console: &console, checks: &checks)
        case .msrRead(let msr):
            return handleMSRRead(msr, registers: &registers, console: &console, checks: &checks)
        case .io(let access):
            return handleIO(access, registers: &registers, console: &console, checks: &checks)
        default:
            return settled(handleOther(event, registers: &registers, vcpu: vcpu), console: &console, checks: &checks)
        }
    }

    /// CPUID: counted, answered (always `.advance`).
    @inline(__always)
    public mutating func handleCPUID<VCPU: GuestStateSource>(
        leaf: UInt32, subleaf: UInt32, registers: inout GuestRegisters, vcpu: VCPU
    ) -> ExitAction {
        statistics.record(.cpuid)
        // The guest's CR4 costs three VMREADs: only leaves 1 and 7 use it.
        let guestCR4 = CPUIDPolicy.readsGuestCR4(leaf: leaf) ? vcpu.guestVisibleCR4() : 0
        let xcr0 = guestXCR0
        return withUnsafePointer(to: &cpuid) {
            CPUIDPolicy.handle(leaf: leaf, subleaf: subleaf, tableAt: $0, guestCR4: guestCR4, guestXCR0: xcr0,
                               registers: &registers)
        }
    }

    /// VMCALL: counted; from CPL > 0 refused, else the hypercall in RAX.
    @inline(__always)
    public mutating func handleVMCALL<Memory: GuestMemory, Console: HypervisorConsole, Checks: CheckRecorder, VCPU: GuestStateSource>(
        registers: inout GuestRegisters, vcpu: VCPU, memory: Memory, console: inout Console, checks: inout Checks
    ) -> ExitAction {
        statistics.record(.vmcall)
        if vcpu.guestCPL() != 0 { return refuseHypercall(registers: &registers) }
        return hypercall(registers: &registers, memory: memory, console: &console, checks: &checks)
    }

    /// RDMSR: counted, the MSR policy's answer.
    @inline(__always)
    public mutating func handleMSRRead<Console: HypervisorConsole, Checks: CheckRecorder>(
        _ msr: MSR, registers: inout GuestRegisters, console: inout Console, checks: inout Checks
    ) -> ExitAction {
        statistics.record(.rdmsr)
        let action = withUnsafePointer(to: &self.msr) { MSRPolicy.handleRead(in: $0, msr, registers: &registers) }
        return settled(action, console: &console, checks: &checks)
    }

    /// IN/OUT (and INS/OUTS): counted, the PCI configuration filter's or the
    /// I/O policy's answer.
    @inline(__always)
    public mutating func handleIO<Console: HypervisorConsole, Checks: CheckRecorder>(
        _ access: PortIO, registers: inout GuestRegisters, console: inout Console, checks: inout Checks
    ) -> ExitAction {
        statistics.record(.ioInstruction)
        let action = PCIConfigPolicy.owns(access)
            ? pciConfig.handle(access) : io.handle(access, registers: &registers, console: &console)
        return settled(action, console: &console, checks: &checks)
    }

    // MARK: - Quick answers (a backend's fast exit path)
    //
    // Each `quick…` does what its `handle…` does, for the cases whose answer
    // is `.advance` and takes nothing out of line (no call, no table scan,
    // no guest memory, no console): counts the exit, writes the registers
    // and returns true. For every other case it returns false and has done
    // nothing (not even counted): the backend then gives the exit to
    // `handle`. The answers come from the same policy code (`quickAnswer`,
    // `quickRead`, `quickHandle`, `exitCount`), so the two paths cannot
    // disagree; tests hold them to it.

    /// CPUID answered by `CPUIDPolicy.quickAnswer`.
    @inline(__always)
    public mutating func quickCPUID<VCPU: GuestStateSource>(
        leaf: UInt32, subleaf: UInt32, registers: inout GuestRegisters, vcpu: VCPU
    ) -> Bool {
        let xcr0 = guestXCR0
        let answer = withUnsafePointer(to: &cpuid) {
            CPUIDPolicy.quickAnswer(
                leaf: leaf, subleaf: subleaf, tableAt: $0, guestCR4: vcpu.guestVisibleCR4(), guestXCR0: xcr0)
        }
        guard let answer else { return false }
        statistics.record(.cpuid)
        registers.setResult(eax: answer.eax, ebx: answer.ebx, ecx: answer.ecx, edx: answer.edx)
        return true
    }

    /// VMCALL from CPL > 0 (refused) or hypercall 3 (the exit count).
    @inline(__always)
    public mutating func quickVMCALL<VCPU: GuestStateSource>(registers: inout GuestRegisters, vcpu: VCPU) -> Bool {
        let permitted = vcpu.guestCPL() == 0
        guard !permitted || registers.rax == Hypercall.exitCount else { return false }
        statistics.record(.vmcall)
        registers.rax = permitted ? exitCount(selector: registers.rbx) : Hypercall.notPermitted
        return true
    }

    /// RDMSR of an emulated MSR other than the MTRRs (`MSRPolicy.quickRead`).
    @inline(__always)
    public mutating func quickMSRRead(_ msr: MSR, registers: inout GuestRegisters) -> Bool {
        guard let value = withUnsafePointer(to: &self.msr, { MSRPolicy.quickRead(in: $0, msr) }) else { return false }
        statistics.record(.rdmsr)
        registers.rax = value & 0xFFFF_FFFF
        registers.rdx = value >> 32
        return true
    }

    /// An I/O access `IOPolicy.quickHandle` answers (not one of the PCI
    /// configuration filter's).
    @inline(__always)
    public mutating func quickIO(_ access: PortIO, registers: inout GuestRegisters) -> Bool {
        guard !PCIConfigPolicy.owns(access), io.quickHandle(access, registers: &registers) else { return false }
        statistics.record(.ioInstruction)
        return true
    }

    /// `action`, after a `stopGuest` has resolved the pending hypercall-5
    /// expectation.
    @inline(__always)
    mutating func settled<Console: HypervisorConsole, Checks: CheckRecorder>(
        _ action: ExitAction, console: inout Console, checks: inout Checks
    ) -> ExitAction {
        if case .stopGuest(let reason) = action {
            resolveExpectation(passed: !reason.isGuestPowerOff, console: &console, checks: &checks)
        }
        return action
    }

    /// Every event but the four `handle` routes itself: counted, and its
    /// policy run.
    @inline(never)
    mutating func handleOther<VCPU: GuestStateSource>(
        _ event: ExitEvent, registers: inout GuestRegisters, vcpu: VCPU
    ) -> ExitAction {
        statistics.record(event.countingReason)
        switch event {
        case .cpuid, .hypercall, .msrRead, .io:
            // Routed by `handle`; never here.
            return .stopGuest(.unhandledExit(reason: UInt32(event.countingReason.rawValue), qualification: 0))
        case .msrWrite(let msr, let value):
            return self.msr.handleWrite(msr, value: value)
        case .crWrite(let cr, let value):
            return controlRegisters.handleWrite(controlRegister: cr, value: value)
        case .crRead(let cr, let destination):
            return controlRegisters.handleRead(controlRegister: cr, destination: destination)
        case .clts:
            return controlRegisters.handleCLTS()
        case .lmsw(let sourceData):
            return controlRegisters.handleLMSW(sourceData: sourceData)
        case .xsetbv(let index, let value):
            let action = XSETBVPolicy.handle(index: index, value: value, supported: supportedXCR0)
            if case .executeXSETBV = action { guestXCR0 = value }
            return action
        case .hlt:
            // RFLAGS.IF (bit 9): with interrupts off only an NMI could end
            // the halt, so the guest is gone; report it rather than idle forever.
            // An AP halted with interrupts off (Linux's stop_this_cpu before
            // a power-off) waits, as on bare metal, for an NMI or INIT: the
            // hypervisor's kick still reaches it. The boot CPU has stopped.
            return vcpu.guestRFLAGS() & (1 << 9) == 0 && !isApplicationProcessor
                ? .stopGuest(.haltedWithInterruptsDisabled) : .halt
        case .invd, .wbinvd:
            return .executeWBINVD
        case .nestedPageFault(let fault):
            return nestedPageFaults.handle(fault)
        case .tripleFault:
            return .stopGuest(.tripleFault)
        case .virtualizationInstruction:
            // The guest's CPU has no VMX (CPUID says so): #UD, as on such a CPU.
            return .invalidOpcodeFault
        case .nmi:
            return .queueNMI
        case .nmiWindow, .timer:
            return .resume
        case .initSignal:
            return isApplicationProcessor ? .waitForStartupIPI : .stopGuest(.initSignal)
        case .startupIPI(let sipi):
            return .stopGuest(.unhandledExit(reason: UInt32(ExitReason.sipi.rawValue), qualification: UInt64(sipi.vector)))
        case .exception(let vector, let errorCode):
            return .stopGuest(.unexpectedException(vector: vector, errorCode: errorCode))
        case .entryFailure(let reason, let qualification):
            return .stopGuest(.entryFailure(reason: reason, qualification: qualification))
        case .unhandled(let reason, let qualification):
            return .stopGuest(.unhandledExit(reason: reason, qualification: qualification))
        }
    }

    /// Call when a guest ended without a `stopGuest` from `handle` (e.g.
    /// VMLAUNCH failed): a pending hypercall-5 expectation counts as FAIL.
    /// Also resets the per-guest state (XCR0 tracking back to 1: the backend
    /// loads XCR0 = 1 before the next guest). Statistics run on.
    public mutating func finishGuest<Console: HypervisorConsole, Checks: CheckRecorder>(
        console: inout Console, checks: inout Checks
    ) {
        resolveExpectation(passed: false, console: &console, checks: &checks)
        guestXCR0 = XSETBVPolicy.resetXCR0
    }

    /// True while a hypercall-5 expectation waits for the guest's end.
    public var isExpectingStop: Bool { expectation.isPending }

    mutating func resolveExpectation<Console: HypervisorConsole, Checks: CheckRecorder>(
        passed: Bool, console: inout Console, checks: inout Checks
    ) {
        guard expectation.isPending else { return }
        expectation.isPending = false
        let length = expectation.length
        withUnsafeTemporaryAllocation(byteCount: StopExpectation.capacity, alignment: 8) { buffer in
            for index in 0..<length { buffer[index] = expectation.name[index] }
            let name = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
            Self.report(passed: passed, name: name, console: &console, checks: &checks)
        }
    }

    /// Records a check and prints `pxhv: guest: PASS <name>` / `FAIL <name>`.
    static func report<Console: HypervisorConsole, Checks: CheckRecorder>(
        passed: Bool, name: UnsafeRawBufferPointer, console: inout Console, checks: inout Checks
    ) {
        checks.record(passed: passed, name: name)
        console.write(passed ? "pxhv: guest: PASS " : "pxhv: guest: FAIL ")
        console.write(escaping: name)
        console.write("\n")
    }
}

/// Hypercall 5's pending check name.
struct StopExpectation {
    static let capacity = 200
    var name: InlineArray<200, UInt8> = InlineArray(repeating: 0)
    var length = 0
    var isPending = false
}
