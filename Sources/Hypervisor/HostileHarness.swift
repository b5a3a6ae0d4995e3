import EPT
import Loader
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// The hypervisor's side of the hostile-guest suite (Guest/hostile,
/// Guest/README.md): the guest announces each attack (hypercall 6), runs
/// it, and ends it (hypercall 7); the verdict is the hypervisor's own.
///
/// While an attack is open, whatever would stop the guest (touching hidden
/// memory, a reset or sleep request, a halt with interrupts off, ...) is
/// counted as *blocked* and the guest resumes at the recovery point it gave,
/// so one run goes through every attack. At the end of each attack the
/// hypervisor checks itself against a baseline taken before the first VM
/// entry: its CR3 and page-table frames, GDT, IDT and TSS, its code and
/// read-only data, the real MSRs a guest must not reach, every other CPU
/// (parked, or this guest's vCPU, and answering pxHV: HostileHarness+
/// Processors.swift), and the longest stretch the guest ran without an
/// exit. Any difference is `ESCAPED`.
struct HostileHarness {
    /// The host's layout, as hypercall 8 tells the attacker.
    struct HostInfo {
        var hiddenStart: UInt64 = 0
        var hiddenEnd: UInt64 = 0
        var hostCR3: UInt64 = 0
        var gdtBase: UInt64 = 0
        var idtBase: UInt64 = 0
        var tssBase: UInt64 = 0
        /// The VMXON region (VT-x) or the host save area, VM_HSAVE_PA (AMD-V).
        var vmxonRegion: UInt64 = 0
        /// The guest's VMCS (VT-x) or VMCB (AMD-V).
        var vmcsRegion: UInt64 = 0
        /// The EPT PML4 (VT-x) or the nested page tables' root, N_CR3 (AMD-V).
        var eptPML4: UInt64 = 0
        var pm1aControlPort: UInt64 = 0
        var pm1bControlPort: UInt64 = 0
        var localAPICBase: UInt64 = 0
    }

    /// What the integrity check compares.
    struct Baseline: Equatable {
        var cr3: UInt64
        var pageTables: UInt32
        var gdt: UInt32
        var idt: UInt32
        var tss: UInt32
        var code: UInt32
        var msrs: UInt32
    }

    /// The open attack, if any.
    struct Attack {
        var name: InlineArray<64, UInt8> = InlineArray(repeating: 0)
        var nameLength = 0
        var recoveryRIP: UInt64 = 0
        /// RSP, RFLAGS, CR3, CS and SS at hypercall 6 (CS and SS: the
        /// privilege level the guest resumes at).
        var recovery = HostileRecoveryState()
        var blocked: UInt64 = 0
        var firstBlocked: StaticString = ""
        var refused: UInt64 = 0
        var exitsAtBegin: UInt64 = 0
        var timerExitsAtBegin: UInt64 = 0
        var longestRun: UInt64 = 0
    }

    let info: HostInfo
    let gdtSize: Int
    let idtSize: Int
    let baseline: Baseline
    /// The preemption-timer slice in TSC ticks (0: no timer).
    let sliceTicks: UInt64
    var attack: Attack?
    private(set) var attacks = 0
    private(set) var contained = 0
    private(set) var escaped = 0
    private(set) var skipped = 0
    /// TSC at the last VM entry while an attack is open (the boot CPU's:
    /// another CPU's write is ignored).
    var lastEntryTSC: UInt64 {
        get { entryTSC }
        set { if Self.onBootCPU { entryTSC = newValue } }
    }
    private var entryTSC: UInt64 = 0
    /// The APs' vCPU counters at the open attack's hypercall 6
    /// (HostileHarness+Processors.swift).
    var processorsAtBegin = InlineArray<16, ProcessorCounts>(repeating: ProcessorCounts())

    init(info: HostInfo, sliceTicks: UInt64) {
        self.info = info
        self.sliceTicks = sliceTicks
        // The sizes as installed (every VM exit sets both limits to 0xFFFF).
        gdtSize = HostIsolation.gdtSize
        idtSize = HostIsolation.idtSize
        baseline = Self.measure(gdtSize: gdtSize, idtSize: idtSize)
    }

    // MARK: The integrity check

    /// CRC-32s of everything a guest must not be able to change.
    static func measure(gdtSize: Int, idtSize: Int) -> Baseline {
        let cr3 = x86_read_cr3()
        var tables = CRC32()
        HostPageTables.forEachTableFrame(cr3: cr3, memory: IdentityMemory()) { frame in
            tables.update(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(frame)), count: 4096))
        }
        let gdt = x86_sgdt(), idt = x86_sidt()
        let gdtCRC = CRC32.checksum(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(gdt.base)), count: gdtSize))
        let idtCRC = CRC32.checksum(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(idt.base)), count: idtSize))
        // The TSS's first 0x68 bytes: RSP0-2 and the IST pointers.
        let tssCRC = CRC32.checksum(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(x86_tss_base())), count: 0x68))
        var code = CRC32()
        code.update(UnsafeRawBufferPointer(
            start: UnsafeRawPointer(bitPattern: UInt(x86_image_start())),
            count: Int(x86_data_start() - x86_image_start())))
        var msrs = CRC32()
        for msr in guardedMSRs() {
            var value = x86_rdmsr(msr)
            withUnsafeBytes(of: &value) { msrs.update($0) }
        }
        return Baseline(
            cr3: cr3, pageTables: tables.value, gdt: gdtCRC, idt: idtCRC, tss: tssCRC, code: code.value, msrs: msrs.value)
    }

    /// The real MSRs a guest write must never reach, among those this CPU
    /// has: IA32_APIC_BASE, EFER, IA32_PAT; the MTRRs (MTRRdefType, the
    /// fixed ones, each variable pair); IA32_RTIT_CTL and OUTPUT_BASE with
    /// Intel PT; VM_CR and VM_HSAVE_PA with AMD-V.
    static func guardedMSRs() -> [UInt32] {
        var list: [UInt32] = [0x1B, 0xC000_0080, 0x277]
        if x86_cpuid(1, 0).edx & (1 << 12) != 0 {  // CPUID.1:EDX.MTRR
            list += [0x2FF, 0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F]
            let variable = UInt32(x86_rdmsr(0xFE) & 0xFF)  // IA32_MTRRCAP.VCNT
            for index in 0..<min(variable, 16) { list += [0x200 + 2 * index, 0x201 + 2 * index] }
        }
        if x86_cpuid(0, 0).eax >= 7 && x86_cpuid(7, 0).ebx & (1 << 25) != 0 {  // CPUID.7:EBX.PT
            list += [0x570, 0x560]
        }
        if x86_cpuid(0x8000_0000, 0).eax >= 0x8000_0001 && x86_cpuid(0x8000_0001, 0).ecx & (1 << 2) != 0 {  // CPUID.80000001h:ECX.SVM
            list += [0xC001_0114, 0xC001_0117]
        }
        return list
    }

    // MARK: Attacks

    /// The harness judges the boot CPU's guest alone. An AP's vCPU of the
    /// same guest never uses it (its backend does not ask, `VCPU`'s
    /// `usesHarness`); should one ask anyway, its stops stay stops (the
    /// recovery point is the boot CPU's guest's) and its exits count for
    /// nothing here. One RDMSR (IA32_GS_BASE: this CPU's block).
    static var onBootCPU: Bool { x86_this_cpu() == x86_boot_cpu() }

    /// Hypercalls 6-9 (`HarnessCall`); RAX.
    mutating func handle<State: HostileGuestState>(
        _ call: HarnessCall, guest: State, statistics: ExitStatistics
    ) -> UInt64 {
        guard Self.onBootCPU else { return Hypercall.failure }
        switch call {
        case .begin(let address, let length, let recoveryRIP):
            return begin(nameAddress: address, nameLength: length, recoveryRIP: recoveryRIP, guest: guest, statistics: statistics)
        case .end:
            return end(statistics: statistics)
        case .hostInfo(let address):
            return writeHostInfo(at: address)
        case .skip(let address, let length, let reason):
            return skip(nameAddress: address, nameLength: length, reason: reason)
        }
    }

    /// Hypercall 6. Returns RAX.
    mutating func begin<State: HostileGuestState>(
        nameAddress: UInt64, nameLength: Int, recoveryRIP: UInt64, guest: State, statistics: ExitStatistics
    ) -> UInt64 {
        guard attack == nil else { return Hypercall.failure }
        var opened = Attack()
        for index in 0..<nameLength {
            opened.name[index] = UnsafePointer<UInt8>(bitPattern: UInt(nameAddress) + UInt(index))!.pointee
        }
        opened.nameLength = nameLength
        opened.recoveryRIP = recoveryRIP
        opened.recovery = guest.recoveryState()
        opened.exitsAtBegin = statistics.total
        opened.timerExitsAtBegin = statistics[.preemptionTimerExpired]
        attack = opened
        attacks += 1
        noteProcessorsAtBegin()
        return Hypercall.done
    }

    /// A stop during an open attack: counted; the guest goes on at the
    /// recovery point with the stack, flags, CR3, CS and SS it had at
    /// hypercall 6, active, no event pending or blocked. Every stop counts,
    /// the guest's own power-off too (an attack may write S5 to end the run
    /// behind the hypervisor's back), except a failed VM entry and an INIT
    /// signal. Returns false when no attack is open.
    mutating func recover<State: HostileGuestState>(
        from reason: StopReason, guest: inout State, registers: inout GuestRegisters
    ) -> Bool {
        guard Self.onBootCPU, var open = attack else { return false }
        switch reason {
        case .entryFailure:
            return false
        case .initSignal:
            // Bochs 2.7 keeps the INIT pending after the exit: resuming would
            // exit again forever. The guest stays stopped.
            return false
        default:
            break
        }
        if open.blocked == 0 { open.firstBlocked = reason.name }
        open.blocked += 1
        attack = open
        registers.rsp = open.recovery.rsp
        guest.resume(at: open.recoveryRIP, open.recovery)
        return true
    }

    /// Hypercall 9 (no attack open): the guest skips an attack that does
    /// not apply here. The hypervisor checks the reason against itself and
    /// says so on the verdict channel; a reason that does not hold (or an
    /// unknown one) is refused, and the guest then runs the attack.
    mutating func skip(nameAddress: UInt64, nameLength: Int, reason rawReason: UInt64) -> UInt64 {
        guard attack == nil, let reason = HostileSkipReason(rawValue: rawReason) else { return Hypercall.failure }
        switch reason {
        case .needsPreemptionTimer:
            guard sliceTicks == 0 else { return Hypercall.failure }
        }
        let name = Self.escapedName(
            UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(nameAddress)), count: nameLength))
        skipped += 1
        console.line("hostile: \(name) skipped: \(reason.text)")
        return Hypercall.done
    }

    /// The guest's bytes, escaped like all guest text.
    private static func escapedName(_ bytes: UnsafeRawBufferPointer) -> Message {
        var name = Message()
        GuestText.escape(bytes) { name.append(bytes: $0) }
        return name
    }

    /// An exception injected into the guest (a refused MSR, a VMX
    /// instruction) while the attack is open.
    mutating func noteRefusal() {
        guard Self.onBootCPU else { return }
        attack?.refused += 1
    }

    /// After each VM exit while an attack is open: the stretch the guest
    /// just ran without the hypervisor.
    mutating func noteExit() {
        guard attack != nil, Self.onBootCPU else { return }
        let run = x86_rdtsc() &- lastEntryTSC
        if run > attack!.longestRun { attack!.longestRun = run }
    }

    /// Hypercall 7: the verdict line. Returns RAX (0 contained, 1 escaped).
    mutating func end(statistics: ExitStatistics) -> UInt64 {
        guard let open = attack else { return Hypercall.failure }
        attack = nil
        let now = Self.measure(gdtSize: gdtSize, idtSize: idtSize)
        // Every AP parked or this guest's vCPU, answering pxHV's NMI or kick
        // (HostileHarness+Processors.swift).
        let processors = judgeProcessors()
        var problem: StaticString = ""
        if now.cr3 != baseline.cr3 { problem = "host CR3 changed" }
        else if now.pageTables != baseline.pageTables { problem = "host page tables changed" }
        else if now.gdt != baseline.gdt { problem = "host GDT changed" }
        else if now.idt != baseline.idt { problem = "host IDT changed" }
        else if now.tss != baseline.tss { problem = "host TSS changed" }
        else if now.code != baseline.code { problem = "host code changed" }
        else if now.msrs != baseline.msrs { problem = "a guarded MSR changed on the real CPU" }
        else if processors.failed != 0 { problem = "a CPU is neither parked nor this guest's vCPU answering pxHV" }
        // The preemption timer must have bounded every stretch (a margin of
        // one slice for the exit path and the emulator's granularity).
        else if sliceTicks != 0 && open.longestRun > 2 * sliceTicks { problem = "the guest ran longer than two timer slices without an exit" }

        let timerExits = statistics[.preemptionTimerExpired] - open.timerExitsAtBegin
        let exits = statistics.total - open.exitsAtBegin
        // The name is the guest's bytes: escaped, like all guest text.
        var nameBytes = open.name
        let name = withUnsafeBytes(of: &nameBytes) { raw in
            Self.escapedName(UnsafeRawBufferPointer(rebasing: raw[0..<open.nameLength]))
        }
        var figures: Message = "blocked \(open.blocked)"
        if open.blocked != 0 { figures.append(" (first: \(open.firstBlocked))") }
        figures.append(", refused \(open.refused), exits \(exits), timer exits \(timerExits), longest run \(open.longestRun) TSC ticks")
        // One line, written in pieces (the console stays this CPU's until
        // its newline): the APs' figures would not fit one `Message`.
        let isContained = problem.utf8CodeUnitCount == 0
        if isContained {
            contained += 1
            console.write("pxhv: hostile: \(name) contained (\(figures)")
        } else {
            escaped += 1
            console.write("pxhv: hostile: \(name) ESCAPED: \(problem) (\(figures)")
        }
        processors.figures.write()
        console.write(")\n")
        return isContained ? 0 : 1
    }

    /// Hypercall 8: the layout, in the page at `address` (checked guest RAM).
    func writeHostInfo(at address: UInt64) -> UInt64 {
        let page = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address))!
        for index in 0..<512 { page[index] = 0 }
        page[0] = 0x5453_4F48_5658_5850  // "PXHVHOST"
        page[1] = info.hiddenStart
        page[2] = info.hiddenEnd
        page[3] = info.hostCR3
        page[4] = info.gdtBase
        page[5] = info.idtBase
        page[6] = info.tssBase
        page[7] = info.vmxonRegion
        page[8] = info.vmcsRegion
        page[9] = info.eptPML4
        page[10] = 0x2_0000  // where the boot stages' page tables were
        page[11] = info.pm1aControlPort
        page[12] = info.pm1bControlPort
        page[13] = 0  // FADT reset register port (not parsed yet)
        page[14] = 0
        page[15] = info.localAPICBase
        // The other CPUs (parked, or this guest's vCPUs waiting for its STARTUP).
        page[16] = UInt64(min(Processors.started.count, Self.reportedProcessors))
        for (index, ap) in Processors.started.prefix(Self.reportedProcessors).enumerated() { page[17 + index] = UInt64(ap.apicID) }
        page[0x108 / 8] = UInt64(min(Processors.hiddenLowPages.count, 8))  // extra hidden ranges
        for (index, range) in Processors.hiddenLowPages.prefix(8).enumerated() {
            page[0x110 / 8 + 2 * index] = range.start
            page[0x110 / 8 + 2 * index + 1] = range.end
        }
        page[0x190 / 8] = UInt64(Console.verdictPort)
        page[0x198 / 8] = 0  // FACS
        page[0x1A0 / 8] = sliceTicks  // the preemption-timer slice in TSC ticks (0: no timer)
        return Hypercall.done
    }

    /// The summary line on the verdict channel (skips named only when
    /// there were any).
    var summaryLine: Message {
        var line: Message = "hostile: summary: \(attacks) attacks, \(contained) contained, \(escaped) escaped"
        if skipped != 0 { line.append(", \(skipped) skipped") }
        return line
    }
}

/// What the harness reads of the guest when an attack begins and writes
/// when it recovers a stop: the VMCS (`HardwareVMCS`) or the VMCB
/// (`VMCBGuestState`). Segments in VMX access-rights form.
protocol HostileGuestState {
    /// RSP, RFLAGS, CR3, CS and SS now.
    func recoveryState() -> HostileRecoveryState
    /// RIP `rip` with `state`; the guest active (not halted), no event
    /// being injected, no interrupt shadow.
    mutating func resume(at rip: UInt64, _ state: HostileRecoveryState)
}

/// The guest state an attack's recovery restores.
struct HostileRecoveryState {
    var rsp: UInt64 = 0
    var rflags: UInt64 = 0
    var cr3: UInt64 = 0
    var cs = SegmentRegister.unusable
    var ss = SegmentRegister.unusable
}

/// Why the guest may skip an attack (hypercall 9, RDX); the hypervisor
/// checks each against itself.
enum HostileSkipReason: UInt64 {
    /// The attack is judged by the VMX-preemption timer (a guest spinning
    /// with interrupts off): without one (AMD-V, or a VT-x CPU without the
    /// timer) nothing gets the CPU back before the guest gives it.
    case needsPreemptionTimer = 1

    var text: StaticString {
        switch self {
        case .needsPreemptionTimer:
            "needs the VMX-preemption timer to bound the guest's stretches; this CPU has none (a guest spinning with interrupts off keeps it)"
        }
    }
}

extension HardwareVMCS: HostileGuestState {
    func recoveryState() -> HostileRecoveryState {
        HostileRecoveryState(
            rsp: read(VMCS.guestRSP), rflags: read(VMCS.guestRFLAGS), cr3: read(VMCS.guestCR3),
            cs: SegmentRegister(
                selector: read(VMCS.guestCSSelector), base: read(VMCS.guestCSBase), limit: read(VMCS.guestCSLimit),
                accessRights: SegmentAccessRights(rawValue: read(VMCS.guestCSAccessRights))),
            ss: SegmentRegister(
                selector: read(VMCS.guestSSSelector), base: read(VMCS.guestSSBase), limit: read(VMCS.guestSSLimit),
                accessRights: SegmentAccessRights(rawValue: read(VMCS.guestSSAccessRights))))
    }

    mutating func resume(at rip: UInt64, _ state: HostileRecoveryState) {
        set(VMCS.guestRIP, rip)
        set(VMCS.guestRSP, state.rsp)
        set(VMCS.guestRFLAGS, state.rflags)
        set(VMCS.guestCR3, state.cr3)
        set(VMCS.guestCSSelector, state.cs.selector)
        set(VMCS.guestCSBase, state.cs.base)
        set(VMCS.guestCSLimit, state.cs.limit)
        set(VMCS.guestCSAccessRights, state.cs.accessRights.rawValue)
        set(VMCS.guestSSSelector, state.ss.selector)
        set(VMCS.guestSSBase, state.ss.base)
        set(VMCS.guestSSLimit, state.ss.limit)
        set(VMCS.guestSSAccessRights, state.ss.accessRights.rawValue)
        set(VMCS.guestActivityState, GuestActivityState.active.rawValue)
        set(VMCS.guestInterruptibilityState, 0)
        set(VMCS.guestPendingDebugExceptions, 0)
        set(VMCS.vmEntryInterruptionInformation, 0)
    }
}

/// The guest state in a VMCB, for the harness. RIP, RSP, RFLAGS and CR3
/// are VMCB fields; segment attributes are SVM's packed 12-bit form; the
/// CPL is a field of its own (AMD APM Vol. 2, "VMCB Layout, State Save
/// Area" (Table B-2 in rev. 3.42)), set to SS.DPL as the processor keeps it.
/// No clean bits are ever set, so the next VMRUN loads every field.
struct VMCBGuestState: HostileGuestState {
    var vmcb: VMCBPage

    func recoveryState() -> HostileRecoveryState {
        let cs = vmcb.read(VMCB.cs), ss = vmcb.read(VMCB.ss)
        return HostileRecoveryState(
            rsp: vmcb.read(VMCB.rsp), rflags: vmcb.read(VMCB.rflags), cr3: vmcb.read(VMCB.cr3),
            cs: SegmentRegister(selector: cs.selector, base: cs.base, limit: cs.limit, accessRights: cs.attributes.accessRights),
            ss: SegmentRegister(selector: ss.selector, base: ss.base, limit: ss.limit, accessRights: ss.attributes.accessRights))
    }

    mutating func resume(at rip: UInt64, _ state: HostileRecoveryState) {
        vmcb.write(VMCB.rip, rip)
        vmcb.write(VMCB.rsp, state.rsp)
        vmcb.write(VMCB.rflags, state.rflags)
        vmcb.write(VMCB.cr3, state.cr3)
        let ss = VMCBSegment(state.ss)
        vmcb.write(VMCB.cs, VMCBSegment(state.cs))
        vmcb.write(VMCB.ss, ss)
        vmcb.write(VMCB.cpl, ss.attributes.dpl)
        // EVENTINJ (AMD APM Vol. 2, "Event Injection") and the interrupt
        // shadow (bit 0 of the INTERRUPT_SHADOW field) cleared.
        vmcb.write(VMCB.eventInjection, 0)
        vmcb.write(VMCB.interruptShadow, vmcb.read(VMCB.interruptShadow) & ~1)
    }
}

/// Set while the hostile-guest suite runs; the exit loop consults it only
/// on stops, injections and harness hypercalls (and, while an attack is
/// open, on every exit for the longest-run figure).
nonisolated(unsafe) var hostileHarness: HostileHarness?
