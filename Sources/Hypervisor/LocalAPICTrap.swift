import Devices
import EPT
import Primitives
import VMExit
import VMXCore
import X86

/// The APs whose vCPUs run the current SMP guest, each with its APIC ID and
/// per-CPU block: one pool page (hidden from guests) that the boot CPU
/// fills before the guest starts and every vCPU's exit path reads while it
/// runs. Raw memory, not a Swift array: arrays are reference counted, and
/// the counts are not atomic across CPUs.
struct VCPUDirectory {
    struct Entry {
        var apicID: UInt64
        var state: UnsafeMutablePointer<x86_ap_state>
    }

    /// Page layout: the count (8 bytes, then 8 reserved), then the entries.
    private let page: UnsafeMutableRawPointer
    static let capacity = (Int(Page.size) - 16) / MemoryLayout<Entry>.stride

    init(page address: UInt64) {
        page = UnsafeMutableRawPointer(bitPattern: UInt(address))!
    }

    var count: Int {
        get { Int(page.load(as: UInt64.self)) }
        nonmutating set { page.storeBytes(of: UInt64(newValue), as: UInt64.self) }
    }

    private var entries: UnsafeMutablePointer<Entry> {
        (page + 16).assumingMemoryBound(to: Entry.self)
    }

    /// Adds an AP (boot CPU, before the guest starts); false when full.
    func append(apicID: UInt32, state: UnsafeMutablePointer<x86_ap_state>) -> Bool {
        let index = count
        guard index < Self.capacity else { return false }
        (entries + index).initialize(to: Entry(apicID: UInt64(apicID), state: state))
        count = index + 1
        return true
    }

    /// The per-CPU block of the AP with `apicID`, if one of this guest's.
    func state(ofAPICID apicID: UInt32) -> UnsafeMutablePointer<x86_ap_state>? {
        for index in 0..<count where entries[index].apicID == UInt64(apicID) { return entries[index].state }
        return nil
    }

    func forEach(_ body: (Entry) -> Void) {
        for index in 0..<count { body(entries[index]) }
    }
}

/// A guest whose INIT and STARTUP IPIs the hypervisor delivers itself (the
/// SMP guests): its writes to the local APIC's page exit (the EPT maps the
/// page read-only, reads pass through at full speed), and
/// `VCPU.emulateLocalAPICWrite` performs each on the real local APIC of the
/// CPU it ran on: the same offset, the same 32-bit value. Except:
///
/// - the ICR's low dword with delivery mode INIT or STARTUP (`ICRRoute`):
///   not sent. For an AP of this guest it is posted to that AP's mailbox
///   (`StartupMailbox`) and the AP kicked with an NMI; for the boot CPU,
///   INIT ends the guest (as INIT to its own CPU always has) and STARTUP is
///   ignored (it runs); an APIC ID with no vCPU gets nothing. INIT
///   de-assert is dropped; INIT or STARTUP in logical destination mode
///   stops the guest (the logical IDs are the guest's). A STARTUP whose
///   vector names a page the guest cannot run (pxHV's AP trampoline,
///   hidden from it) starts nothing and stops the sender's guest as an
///   access to hypervisor memory: the started vCPU's first fetch would
///   stop the guest on every CPU anyway, and this way the hostile-guest
///   harness can recover the sender.
/// - the ID register (0x20): the write is dropped; the hypervisor reaches
///   its CPUs by these IDs.
///
/// So no real INIT or SIPI ever reaches a CPU that runs a vCPU: on AMD-V
/// (no wait-for-SIPI state) the same delivery works unchanged. What the
/// guest reads back of the ICR after an emulated INIT or STARTUP is the
/// last command the real APIC sent (delivery status idle), not that one.
///
/// Cost: one EPT violation exit per APIC write, EOI (0xB0) included.
struct LocalAPICTrap {
    /// The xAPIC page (guest-physical = host-physical).
    let base: UInt64
    let bootAPICID: UInt32
    let directory: VCPUDirectory

    /// What a guest's write of `value` at `offset` (a register's start)
    /// did: nil, or why this vCPU leaves its guest (`initSignal`: INIT to
    /// itself; `initSentToBootCPU`: an AP sent INIT to the boot CPU;
    /// `unhandledExit`: a logical INIT or STARTUP, reported here;
    /// `hypervisorMemoryAccess`: a STARTUP at a page not in `code`, `rip`
    /// the sender's). `sender`: the APIC ID of the CPU the write exited on.
    func write(
        _ value: UInt32, at offset: UInt64, sender: UInt32, code: GuestCodeMemory, rip: UInt64
    ) -> StopReason? {
        switch offset {
        case XAPICRegister.id:
            return nil
        case XAPICRegister.interruptCommandLow:
            let command = InterruptCommand(
                low: value, high: x86_mmio_read32(base + XAPICRegister.interruptCommandHigh))
            switch command.route {
            case .send:
                x86_mmio_write32(base + offset, value)
                return nil
            case .drop:
                return nil
            case .signal(let signal, let targets):
                if case .startup(let vector) = signal {
                    let page = StartupIPI(vector: vector).codeBase
                    guard code.isReadable(at: page, count: Page.size) else {
                        Self.reportHiddenStartPage(vector: vector)
                        return .hypervisorMemoryAccess(NestedPageFault(guestPhysicalAddress: page, access: .fetch, guestRIP: rip))
                    }
                }
                return deliver(signal, to: targets, sender: sender)
            case .logicalDestination:
                Self.reportLogicalDestination(command)
                return .unhandledExit(reason: UInt32(ExitReason.eptViolation.rawValue), qualification: base + offset)
            }
        default:
            x86_mmio_write32(base + offset, value)
            return nil
        }
    }

    @inline(never)
    private static func reportLogicalDestination(_ command: InterruptCommand) {
        console.error("apic: the guest sent INIT or STARTUP in logical destination mode (ICR \(hex: command.rawValue)): not emulated")
    }

    @inline(never)
    private static func reportHiddenStartPage(vector: UInt8) {
        console.line("apic: STARTUP at vector \(hex: vector) (page \(hex: StartupIPI(vector: vector).codeBase)) is not the guest's to run: not delivered")
    }

    /// INIT or STARTUP to `targets`, delivered by the hypervisor.
    private func deliver(_ signal: StartupSignal, to targets: StartupTargets, sender: UInt32) -> StopReason? {
        switch targets {
        case .processor(let apicID):
            if apicID == sender { return toSelf(signal) }
            if apicID == bootAPICID { return toBootCPU(signal) }
            // An APIC ID with no vCPU of this guest gets nothing.
            if let state = directory.state(ofAPICID: apicID) { post(signal, to: state, apicID: apicID) }
            return nil
        case .onlySelf:
            return toSelf(signal)
        case .allExcludingSelf, .allIncludingSelf:
            directory.forEach { entry in
                let apicID = UInt32(truncatingIfNeeded: entry.apicID)
                if apicID != sender { post(signal, to: entry.state, apicID: apicID) }
            }
            if targets == .allIncludingSelf, let stop = toSelf(signal) { return stop }
            return sender == bootAPICID ? nil : toBootCPU(signal)
        }
    }

    /// A running CPU ignores STARTUP; INIT takes it out of the guest (an
    /// AP's vCPU then waits for STARTUP; the boot CPU's guest ends).
    private func toSelf(_ signal: StartupSignal) -> StopReason? {
        signal == .initialize ? .initSignal : nil
    }

    /// The boot CPU runs (STARTUP ignored); INIT for it ends the guest.
    private func toBootCPU(_ signal: StartupSignal) -> StopReason? {
        signal == .initialize ? .initSentToBootCPU : nil
    }

    /// Posts `signal` to the AP's mailbox and kicks it if it must act.
    private func post(_ signal: StartupSignal, to state: UnsafeMutablePointer<x86_ap_state>, apicID: UInt32) {
        while true {
            let old = x86_load_acquire64(&state.pointee.startup_mailbox)
            guard let (next, kick) = StartupMailbox(rawValue: old).posting(signal) else { return }
            if x86_compare_exchange64(&state.pointee.startup_mailbox, old, next.rawValue) {
                if kick { LocalAPIC(base: base, isX2APIC: false).kick(state, apicID: apicID) }
                return
            }
        }
    }
}

/// What became of a guest's store to the trapped page (`emulateStore`).
enum LocalAPICStoreOutcome {
    /// Performed (or its INIT or STARTUP delivered): RIP goes past its
    /// `length` bytes; `stop` as `LocalAPICTrap.write` says.
    case emulated(length: Int, stop: StopReason?)
    /// Not emulated (said in one line): the guest stops.
    case refused(StopReason)
}

extension LocalAPICTrap {
    /// Both vendors' emulation of the store that faulted at `address` (the
    /// nested fault gives no instruction length: Intel SDM Vol. 3C,
    /// "VM-Exit Instruction Length"; AMD's decode assists are optional),
    /// from the instruction at `rip` that `fetch` reads into its buffer (at
    /// most 15 bytes; it returns how many). `isWalk`: the processor wrote a
    /// guest paging-structure entry there, not a register.
    func emulateStore(
        isWalk: Bool, codeSize: CodeSize, address: UInt64, rip: UInt64, code: GuestCodeMemory,
        fetch: (UnsafeMutableRawBufferPointer) -> Int, register: (GeneralPurposeRegister) -> UInt64
    ) -> LocalAPICStoreOutcome {
        var window: (UInt64, UInt64) = (0, 0)
        let count = isWalk ? 0 : withUnsafeMutableBytes(of: &window) { fetch(UnsafeMutableRawBufferPointer(rebasing: $0[0..<15])) }
        return withUnsafeBytes(of: window) { bytes in
            emulateStore(
                isWalk ? nil : UnsafeRawBufferPointer(rebasing: bytes[0..<count]), codeSize: codeSize, address: address,
                rip: rip, code: code, register: register)
        }
    }

    /// The same from the instruction `bytes` (nil: a paging-structure
    /// entry).
    /// `register` reads a general-purpose register of the guest; `code` is
    /// what the guest may run (for a STARTUP's page). Anything but a 32-bit
    /// MOV to the start of a register is refused with a line.
    func emulateStore(
        _ bytes: UnsafeRawBufferPointer?, codeSize: CodeSize, address: UInt64, rip: UInt64, code: GuestCodeMemory,
        register: (GeneralPurposeRegister) -> UInt64
    ) -> LocalAPICStoreOutcome {
        let refused = StopReason.unhandledExit(reason: UInt32(ExitReason.eptViolation.rawValue), qualification: address)
        guard let bytes else {
            Self.reportPageTablesInAPICPage(address: address, rip: rip)
            return .refused(refused)
        }
        let store: MemoryStoreInstruction
        do throws(MemoryStoreDecodeError) {
            store = try MemoryStoreInstruction.decode(bytes, codeSize: codeSize)
        } catch {
            Self.reportNotEmulated(error, address: address, rip: rip, bytes: bytes)
            return .refused(refused)
        }
        let offset = address & 0xFFF
        guard offset % XAPICRegister.alignment == 0 else {
            Self.reportInsideRegister(address: address, rip: rip)
            return .refused(refused)
        }
        let value: UInt32
        switch store.source {
        case .register(let name): value = UInt32(truncatingIfNeeded: register(name))
        case .immediate(let immediate): value = immediate
        }
        let stop = write(value, at: offset, sender: x86_mmio_read32(base + XAPICRegister.id) >> 24, code: code, rip: rip)
        return .emulated(length: store.length, stop: stop)
    }

    // The refusals' lines, out of line: their messages stay off the frame
    // of the emulation, which SMP guests run at every EOI.

    @inline(never)
    private static func reportPageTablesInAPICPage(address: UInt64, rip: UInt64) {
        console.error("apic: the guest's page tables are in the local APIC page (GPA \(hex: address), RIP \(hex: rip))")
    }

    @inline(never)
    private static func reportNotEmulated(_ error: MemoryStoreDecodeError, address: UInt64, rip: UInt64, bytes: UnsafeRawBufferPointer) {
        var window: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &window) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(16))) }
        console.error("apic: the guest's write to the local APIC at \(hex: address) (RIP \(hex: rip)) is not emulated: \(error.message) (bytes \(hex: window.0.byteSwapped, digits: 16) \(hex: window.1.byteSwapped, digits: 16))")
    }

    @inline(never)
    private static func reportInsideRegister(address: UInt64, rip: UInt64) {
        console.error("apic: the guest wrote the local APIC at \(hex: address) (RIP \(hex: rip)), inside a register: registers are 32 bits at 16-byte offsets")
    }
}

extension LocalAPICTrap {
    /// Maps the local APIC's page read-only (or back to read/write/execute)
    /// in the EPT at `pointer`: its own 4 KiB leaf first (split from the
    /// large leaf around it, once: later calls find it), then INVEPT on
    /// this CPU. The APs invalidate when their vCPUs start. Nil (with a
    /// line) when the page is not mapped or no table page is left.
    static func protect(
        _ readOnly: Bool, page: UInt64, ept pointer: EPTPointer, capabilities: VMXCapabilities,
        allocator: inout FrameAllocator
    ) -> Bool {
        guard protect(readOnly, page: page, in: EPTEntry.self, pml4: pointer.pml4Address, allocator: &allocator) else { return false }
        var descriptor = x86_invalidation_descriptor(low: pointer.rawValue, high: 0)
        _ = x86_invept(capabilities.eptVPID.supportsSingleContextINVEPT ? 1 : 2, &descriptor)
        return true
    }

    /// The leaf part of it for either format (`PageLeafIsolation`): the
    /// EPT or nested page tables rooted at `pml4`; the caller invalidates.
    static func protect<Entry: PageTableEntry>(
        _ readOnly: Bool, page: UInt64, in format: Entry.Type, pml4: UInt64, allocator: inout FrameAllocator
    ) -> Bool {
        var memory = IdentityMemory()
        do {
            let slot = try PageLeafIsolation<Entry>.leafSlot(mapping: page, pml4: pml4, in: &memory, pages: &allocator)
            try PageLeafIsolation<Entry>.setPermissions(readOnly ? [.read, .execute] : .all, ofLeafAt: slot, in: &memory)
            return true
        } catch {
            console.line("apic: the local APIC page \(hex: page) cannot be trapped: \(error.message)")
            return false
        }
    }
}
