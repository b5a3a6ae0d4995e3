import EPT
import VMXCore

/// What the backend does after a handler looked at an exit.
///
/// Every case that emulates the guest's instruction says so: the backend
/// does its part, then advances RIP past the instruction (VMX: by the
/// VM-exit instruction length, VMCS field 0x440C) and resumes. `resume` and
/// `inject` leave RIP alone. Register results (CPUID, RDMSR, hypercalls) are
/// already in the `GuestRegisters` the handler was given.
public enum ExitAction: Equatable, Sendable {
    /// Re-enter the guest at the same RIP.
    case resume
    /// Skip the instruction that exited, then re-enter.
    case advance
    /// Deliver a hardware exception to the guest at the same RIP (the
    /// instruction faults; nothing is advanced). VMX: VM-entry
    /// interruption information 0x4016 = `vmxEntryInterruptionInformation`,
    /// error code 0x4018.
    case inject(ExceptionVector, errorCode: UInt32?)
    /// Change a control register as the guest sees it, then advance. See
    /// `ControlRegisterUpdate` for who applies the fixed bits.
    case writeControlRegister(ControlRegisterUpdate)
    /// Execute XSETBV with these operands on this CPU (XCR0 is not switched
    /// between guest and host: the host uses no SSE/AVX state), then advance.
    case executeXSETBV(index: UInt32, value: UInt64)
    /// Execute WBINVD on the host (INVD is turned into WBINVD: dropping dirty
    /// lines the hypervisor owns is not the guest's call), then advance.
    case executeWBINVD
    /// Perform the guest's port access on the real port, then advance: OUT
    /// writes `value` (`size` bytes); IN reads `size` bytes into the low
    /// bytes of RAX (8- and 16-bit INs leave the rest of RAX, a 32-bit IN
    /// clears bits 63:32). Only for non-string accesses.
    case forwardPortIO(PortIO)
    /// Deliver one NMI to the guest as soon as it can take one (VMX: inject
    /// it at the next VM entry, or open an NMI window first), then resume
    /// at the same RIP.
    case queueNMI
    /// HLT with interrupts enabled: skip the instruction and leave the
    /// guest halted until an interrupt or NMI wakes it (VMX: activity state
    /// HLT, with STI and MOV-SS blocking cleared: HLT ends that shadow).
    case halt
    /// MOV from CR`controlRegister` into `destination` (VMX: only when the
    /// CPU forces CR3-store exiting): the backend writes the guest's value,
    /// then advances.
    case readControlRegister(controlRegister: UInt8, destination: GeneralPurposeRegister)
    /// A hostile-guest harness hypercall (6, 7, 8; Guest/README.md), its
    /// arguments checked: the backend carries it out, sets RAX, advances.
    case harness(HarnessCall)
    /// Hypercall 10 of a BIOS guest: the backend serves the BIOS call whose
    /// register frame is at GPA `frame` (`BIOSGuestServices`), sets RAX,
    /// advances.
    case biosService(frame: UInt64)
    /// INIT reached an application processor's vCPU: it leaves the guest
    /// and waits in VMX root for the guest's next STARTUP
    /// (`StartupMailbox`), as a processor after INIT waits for a SIPI.
    case waitForStartupIPI
    /// A write to the trapped local APIC page (`NestedPageFaultPolicy`):
    /// the backend decodes the store at RIP (`MemoryStoreInstruction`: the
    /// exit gives no instruction length), performs it on the real local
    /// APIC or delivers the INIT or STARTUP it sends itself, and advances
    /// RIP by the decoded length.
    case emulateLocalAPICWrite(NestedPageFault)
    /// The guest ends; the caller prints the report (`StopReason.name`, the
    /// guest RIP from the VMCS, ...) after the guest has stopped.
    case stopGuest(StopReason)

    /// True when the backend advances RIP by the instruction length.
    public var advancesInstructionPointer: Bool {
        switch self {
        case .advance, .writeControlRegister, .executeXSETBV, .executeWBINVD, .forwardPortIO, .halt,
            .readControlRegister, .harness, .biosService: true
        case .resume, .inject, .queueNMI, .waitForStartupIPI, .emulateLocalAPICWrite, .stopGuest: false
        }
    }
}

/// What a harness hypercall asks of the backend (only while the hypervisor
/// runs its hostile-guest suite).
public enum HarnessCall: Equatable, Sendable {
    /// Hypercall 6: an attack named by the `nameLength` bytes at GPA
    /// `nameAddress` starts; until it ends, any stop of the guest is counted
    /// as blocked and the guest resumes at `recoveryRIP`.
    case begin(nameAddress: UInt64, nameLength: Int, recoveryRIP: UInt64)
    /// Hypercall 7: the attack ends; the hypervisor checks itself.
    case end
    /// Hypercall 8: fill the 4 KiB guest page at `address` with the host's
    /// layout.
    case hostInfo(address: UInt64)
    /// Hypercall 9: the attack named by the `nameLength` bytes at GPA
    /// `nameAddress` is skipped for `reason` (a `HostileSkipReason` raw
    /// value, which the hypervisor checks).
    case skip(nameAddress: UInt64, nameLength: Int, reason: UInt64)
}

/// A hardware-exception vector.
///
/// Intel SDM Vol. 3A, "Exception and Interrupt Reference" (6.15 in rev. 84).
public struct ExceptionVector: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// #UD, invalid opcode.
    public static let invalidOpcode = Self(rawValue: 6)
    /// #GP, general protection.
    public static let generalProtection = Self(rawValue: 13)
    /// NMI (delivered with interruption type NMI, not as an exception).
    public static let nmi = Self(rawValue: 2)
}

extension ExitAction {
    /// `inject(.invalidOpcode, errorCode: nil)`: #UD.
    public static var invalidOpcodeFault: ExitAction { .inject(.invalidOpcode, errorCode: nil) }
}

extension ExitAction {
    /// `inject(.generalProtection, errorCode: 0)`: #GP(0).
    public static var generalProtectionFault: ExitAction { .inject(.generalProtection, errorCode: 0) }
}

/// A change to CR0, CR3 or CR4 as the guest sees it.
///
/// The new guest-visible value is `applied(to: old)` = `(old & ~clearing) |
/// setting`, where `old` is the current guest-visible value (VMX: the
/// read-shadow bits under the guest/host mask, the guest CRn elsewhere).
/// The handler has already refused what the guest may not do (#GP). The
/// backend then sets, for CR0/CR4: read shadow = the new value; guest CRn =
/// the new value with the FIXED0 bits set and the bits outside FIXED1
/// cleared (CR4.VMXE comes from FIXED0; with unrestricted guest CR0.PE/PG
/// are exempt); for CR3: guest CR3 = the new value.
public struct ControlRegisterUpdate: Equatable, Sendable {
    /// 0, 3 or 4.
    public var controlRegister: UInt8
    public var clearing: UInt64
    public var setting: UInt64

    public init(controlRegister: UInt8, clearing: UInt64, setting: UInt64) {
        self.controlRegister = controlRegister
        self.clearing = clearing
        self.setting = setting
    }

    /// A MOV to CRn: the whole value replaced.
    public static func move(to controlRegister: UInt8, _ value: UInt64) -> Self {
        Self(controlRegister: controlRegister, clearing: ~0, setting: value)
    }

    /// The new guest-visible value.
    public func applied(to old: UInt64) -> UInt64 { (old & ~clearing) | setting }
}

/// Why a guest was stopped.
public enum StopReason: Equatable, Sendable {
    /// Hypercall 4 or an S5 write to the PM1a control port.
    case guestPowerOff(status: UInt64)
    /// The guest asked for a machine reset (0xCF9, 0x92, 8042, the FADT
    /// reset register): it is ended, not restarted. `value` is the byte
    /// written to `port`.
    case resetRequested(port: UInt16, value: UInt32)
    /// The guest touched the hypervisor's hidden memory.
    case hypervisorMemoryAccess(NestedPageFault)
    /// The guest touched a guest-physical address nothing is mapped at.
    case unmappedAccess(NestedPageFault)
    case tripleFault
    /// An exception or NMI exit (none is expected: the exception bitmap is 0).
    case unexpectedException(vector: UInt8, errorCode: UInt32?)
    /// An MSR access that exited although the MSR bitmap does not intercept it.
    case unexpectedMSRAccess(MSR, isWrite: Bool)
    /// A port access the I/O policy does not model.
    case unhandledPortIO(PortIO)
    /// A control-register access the policy does not handle (MOV from CR,
    /// MOV to CR8, ...).
    case unhandledControlRegisterAccess(controlRegister: UInt8, isWrite: Bool)
    /// VM entry failed (vendor code; VMX: the exit-reason field).
    case entryFailure(reason: UInt32, qualification: UInt64)
    /// An exit no handler classifies (VMX basic reason).
    case unhandledExit(reason: UInt32, qualification: UInt64)
    /// HLT with RFLAGS.IF = 0: nothing but an NMI could wake the guest, and
    /// no device sends it one; it has stopped for good.
    case haltedWithInterruptsDisabled
    /// An INIT signal reached the guest's CPU (e.g. an INIT IPI it sent to
    /// itself): on bare metal that resets the CPU.
    case initSignal
    /// A guest's application processor sent INIT to the boot CPU (whose
    /// INIT ends the guest, as `initSignal` there does).
    case initSentToBootCPU
    /// The hypervisor stopped this CPU's part of the guest: CPU `cpu`
    /// (0 = the boot CPU) asked, because the guest stopped there.
    case stopRequested(byCPU: UInt64)

    /// True for the guest's own way out (hypercall 4, S5): every other stop
    /// is the hypervisor stopping the guest (what hypercall 5 expects).
    public var isGuestPowerOff: Bool {
        if case .guestPowerOff = self { return true }
        return false
    }

    /// A short name for the report.
    public var name: StaticString {
        switch self {
        case .guestPowerOff: "guest power-off"
        case .resetRequested: "reset requested"
        case .hypervisorMemoryAccess: "access to hypervisor memory"
        case .unmappedAccess: "access to unmapped guest-physical memory"
        case .tripleFault: "triple fault"
        case .unexpectedException: "unexpected exception"
        case .unexpectedMSRAccess: "unexpected MSR access"
        case .unhandledPortIO: "unhandled port I/O"
        case .unhandledControlRegisterAccess: "unhandled control-register access"
        case .entryFailure: "VM entry failure"
        case .unhandledExit: "unhandled exit"
        case .haltedWithInterruptsDisabled: "halted with interrupts disabled"
        case .initSignal: "INIT signal"
        case .initSentToBootCPU: "INIT sent to the boot CPU"
        case .stopRequested: "stopped with the guest on another CPU"
        }
    }
}
