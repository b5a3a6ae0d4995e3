import EPT
import Loader
import Primitives
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
/// read-only data, the real MSRs a guest must not reach, and the longest
/// stretch the guest ran without an exit. Any difference is `ESCAPED`.
struct HostileHarness {
    /// The host's layout, as hypercall 8 tells the attacker.
    struct HostInfo {
        var hiddenStart: UInt64 = 0
        var hiddenEnd: UInt64 = 0
        var hostCR3: UInt64 = 0
        var gdtBase: UInt64 = 0
        var idtBase: UInt64 = 0
        var tssBase: UInt64 = 0
        var vmxonRegion: UInt64 = 0
        var vmcsRegion: UInt64 = 0
        var eptPML4: UInt64 = 0
        var pm1aControlPort: UInt64 = 0
        var pm1bControlPort: UInt64 = 0
        var localAPICBase: UInt64 = 0
    }

    /// One segment register's VMCS fields.
    struct SegmentSnapshot {
        var selector: UInt16 = 0
        var base: UInt64 = 0
        var limit: UInt32 = 0
        var accessRights: UInt32 = 0
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
        var recoveryRSP: UInt64 = 0
        var recoveryRFLAGS: UInt64 = 0
        /// CS and SS at hypercall 6 (the privilege level the guest resumes at).
        var recoveryCS = SegmentSnapshot()
        var recoverySS = SegmentSnapshot()
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
    /// TSC at the last VM entry while an attack is open.
    var lastEntryTSC: UInt64 = 0

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
    /// has: IA32_APIC_BASE; the MTRRs (MTRRdefType, the fixed ones, each
    /// variable pair); IA32_RTIT_CTL and OUTPUT_BASE with Intel PT.
    static func guardedMSRs() -> [UInt32] {
        var list: [UInt32] = [0x1B]
        if x86_cpuid(1, 0).edx & (1 << 12) != 0 {  // CPUID.1:EDX.MTRR
            list += [0x2FF, 0x250, 0x258, 0x259, 0x268, 0x269, 0x26A, 0x26B, 0x26C, 0x26D, 0x26E, 0x26F]
            let variable = UInt32(x86_rdmsr(0xFE) & 0xFF)  // IA32_MTRRCAP.VCNT
            for index in 0..<min(variable, 16) { list += [0x200 + 2 * index, 0x201 + 2 * index] }
        }
        if x86_cpuid(0, 0).eax >= 7 && x86_cpuid(7, 0).ebx & (1 << 25) != 0 {  // CPUID.7:EBX.PT
            list += [0x570, 0x560]
        }
        return list
    }

    // MARK: Attacks

    /// Hypercall 6. Returns RAX.
    mutating func begin(nameAddress: UInt64, nameLength: Int, recoveryRIP: UInt64, vmcs: HardwareVMCS,
                        statistics: ExitStatistics) -> UInt64 {
        guard attack == nil else { return Hypercall.failure }
        var opened = Attack()
        for index in 0..<nameLength {
            opened.name[index] = UnsafePointer<UInt8>(bitPattern: UInt(nameAddress) + UInt(index))!.pointee
        }
        opened.nameLength = nameLength
        opened.recoveryRIP = recoveryRIP
        opened.recoveryRSP = vmcs.read(VMCS.guestRSP)
        opened.recoveryRFLAGS = vmcs.read(VMCS.guestRFLAGS)
        opened.recoveryCS = SegmentSnapshot(
            selector: vmcs.read(VMCS.guestCSSelector), base: vmcs.read(VMCS.guestCSBase),
            limit: vmcs.read(VMCS.guestCSLimit), accessRights: vmcs.read(VMCS.guestCSAccessRights))
        opened.recoverySS = SegmentSnapshot(
            selector: vmcs.read(VMCS.guestSSSelector), base: vmcs.read(VMCS.guestSSBase),
            limit: vmcs.read(VMCS.guestSSLimit), accessRights: vmcs.read(VMCS.guestSSAccessRights))
        opened.exitsAtBegin = statistics.total
        opened.timerExitsAtBegin = statistics[.preemptionTimerExpired]
        attack = opened
        attacks += 1
        return Hypercall.done
    }

    /// A stop during an open attack: counted; the guest goes on at the
    /// recovery point with the stack, flags, CS and SS it had at hypercall
    /// 6, active, no event pending or blocked. Every stop counts, the
    /// guest's own power-off too (an attack may write S5 to end the run
    /// behind the hypervisor's back), except a failed VM entry and an INIT
    /// signal. Returns false when no attack is open.
    mutating func recover(from reason: StopReason, vmcs: inout HardwareVMCS, registers: inout GuestRegisters) -> Bool {
        guard var open = attack else { return false }
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
        vmcs.set(VMCS.guestRIP, open.recoveryRIP)
        registers.rsp = open.recoveryRSP
        vmcs.set(VMCS.guestRSP, open.recoveryRSP)
        vmcs.set(VMCS.guestRFLAGS, open.recoveryRFLAGS)
        vmcs.set(VMCS.guestCSSelector, open.recoveryCS.selector)
        vmcs.set(VMCS.guestCSBase, open.recoveryCS.base)
        vmcs.set(VMCS.guestCSLimit, open.recoveryCS.limit)
        vmcs.set(VMCS.guestCSAccessRights, open.recoveryCS.accessRights)
        vmcs.set(VMCS.guestSSSelector, open.recoverySS.selector)
        vmcs.set(VMCS.guestSSBase, open.recoverySS.base)
        vmcs.set(VMCS.guestSSLimit, open.recoverySS.limit)
        vmcs.set(VMCS.guestSSAccessRights, open.recoverySS.accessRights)
        vmcs.set(VMCS.guestActivityState, GuestActivityState.active.rawValue)
        vmcs.set(VMCS.guestInterruptibilityState, 0)
        vmcs.set(VMCS.guestPendingDebugExceptions, 0)
        vmcs.set(VMCS.vmEntryInterruptionInformation, 0)
        return true
    }

    /// An exception injected into the guest (a refused MSR, a VMX
    /// instruction) while the attack is open.
    mutating func noteRefusal() {
        attack?.refused += 1
    }

    /// After each VM exit while an attack is open: the stretch the guest
    /// just ran without the hypervisor.
    mutating func noteExit() {
        guard attack != nil else { return }
        let run = x86_rdtsc() &- lastEntryTSC
        if run > attack!.longestRun { attack!.longestRun = run }
    }

    /// Hypercall 7: the verdict line. Returns RAX (0 contained, 1 escaped).
    mutating func end(statistics: ExitStatistics) -> UInt64 {
        guard let open = attack else { return Hypercall.failure }
        attack = nil
        let now = Self.measure(gdtSize: gdtSize, idtSize: idtSize)
        var problem: StaticString = ""
        if now.cr3 != baseline.cr3 { problem = "host CR3 changed" }
        else if now.pageTables != baseline.pageTables { problem = "host page tables changed" }
        else if now.gdt != baseline.gdt { problem = "host GDT changed" }
        else if now.idt != baseline.idt { problem = "host IDT changed" }
        else if now.tss != baseline.tss { problem = "host TSS changed" }
        else if now.code != baseline.code { problem = "host code changed" }
        else if now.msrs != baseline.msrs { problem = "a guarded MSR changed on the real CPU" }
        else if Processors.verifyParkedProcessors().failed != 0 { problem = "a parked CPU no longer answers in VMX root" }
        // The preemption timer must have bounded every stretch (a margin of
        // one slice for the exit path and the emulator's granularity).
        else if sliceTicks != 0 && open.longestRun > 2 * sliceTicks { problem = "the guest ran longer than two timer slices without an exit" }

        let timerExits = statistics[.preemptionTimerExpired] - open.timerExitsAtBegin
        let exits = statistics.total - open.exitsAtBegin
        // The name is the guest's bytes: escaped, like all guest text.
        var name = Message()
        var nameBytes = open.name
        withUnsafeBytes(of: &nameBytes) { raw in
            GuestText.escape(UnsafeRawBufferPointer(rebasing: raw[0..<open.nameLength])) { name.append(bytes: $0) }
        }
        var figures: Message = "blocked \(open.blocked)"
        if open.blocked != 0 { figures.append(" (first: \(open.firstBlocked))") }
        figures.append(", refused \(open.refused), exits \(exits), timer exits \(timerExits), longest run \(open.longestRun) TSC ticks")
        if problem.utf8CodeUnitCount == 0 {
            contained += 1
            console.line("hostile: \(name) contained (\(figures))")
            return 0
        }
        escaped += 1
        console.line("hostile: \(name) ESCAPED: \(problem) (\(figures))")
        return 1
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
        page[16] = UInt64(min(Processors.started.count, 16))  // other CPUs (parked)
        for (index, ap) in Processors.started.prefix(16).enumerated() { page[17 + index] = UInt64(ap.apicID) }
        page[0x108 / 8] = UInt64(min(Processors.hiddenLowPages.count, 8))  // extra hidden ranges
        for (index, range) in Processors.hiddenLowPages.prefix(8).enumerated() {
            page[0x110 / 8 + 2 * index] = range.start
            page[0x110 / 8 + 2 * index + 1] = range.end
        }
        page[0x190 / 8] = UInt64(Console.verdictPort)
        page[0x198 / 8] = 0  // FACS
        return Hypercall.done
    }

    /// The summary line on the verdict channel.
    var summaryLine: Message {
        "hostile: summary: \(attacks) attacks, \(contained) contained, \(escaped) escaped"
    }
}

/// Set while the hostile-guest suite runs; the exit loop consults it only
/// on stops, injections and harness hypercalls (and, while an attack is
/// open, on every exit for the longest-run figure).
nonisolated(unsafe) var hostileHarness: HostileHarness?
