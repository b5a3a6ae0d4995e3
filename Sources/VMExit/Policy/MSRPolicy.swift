import VMXCore

/// RDMSR/WRMSR as Guest/README.md ("MSRs") defines them: deny by default.
///
/// The MSR bitmap passes through only `passThrough(_:patIsSwitched:)`'s
/// allow-list; every other access exits to here and is emulated or raises
/// #GP(0), and nothing here writes an MSR of the hardware:
///
/// - IA32_APIC_BASE (0x1B): reads the host's value; a write that changes
///   nothing but the BSP flag is accepted and has no effect; relocating the
///   APIC, enabling x2APIC or disabling the APIC, or a reserved bit: #GP(0).
/// - IA32_FEATURE_CONTROL (0x3A): reads 1 (locked, VMX off); writes #GP(0).
/// - IA32_TIME_STAMP_COUNTER (0x10), IA32_TSC_ADJUST (0x3B): reads pass
///   through; writes are dropped (they would move the host's TSC too).
/// - IA32_BIOS_UPDT_TRIG (0x79): writes ignored (no microcode update from a
///   guest); reads #GP(0) (write-only).
/// - IA32_BIOS_SIGN_ID (0x8B): reads the host's microcode revision; writes
///   ignored (the guest's "write 0, CPUID, read" sequence works).
/// - IA32_MISC_ENABLE (0x1A0): reads the host's value; writes ignored (its
///   bits disable NX, fast strings, SpeedStep, MONITOR for the host too).
/// - MSR_PKG_CST_CONFIG_CONTROL (0xE2), MSR_POWER_CTL (0x1FC): read 0,
///   writes ignored. Package C-state limits and C1E promotion steer the
///   whole package (the host's power too); Linux's intel_idle reads and
///   writes them without a #GP guard on Skylake-X, so they are emulated
///   (0: no package C-state beyond C0/C1 advertised, C1E promotion off)
///   rather than faulted.
/// - IA32_XSS (0xDA0): reads 0; a write of 0 is accepted (the hardware's
///   stays 0), any other value #GP(0): CPUID leaf 0xD subleaf 1 reports no
///   supervisor state component (with XSS.PT, XRSTORS would load the Intel
///   PT MSRs behind the bitmap).
/// - The MTRRs (0xFE, 0x200-0x21F, 0x250-0x26F, 0x2FF): a per-guest copy
///   started from the host's (`MTRRState`): validated like the CPU (#GP(0)
///   on a reserved bit or an undefined type, or a write of IA32_MTRRCAP),
///   never written to the hardware.
/// - IA32_PAT (0x277), only when the VMCS does not switch it: a per-guest
///   value, validated (#GP(0) on types 2, 3 or a reserved bit), not applied.
/// - The VMX capability MSRs 0x480-0x491: #GP(0) (the guest's CPU has no VMX).
/// - Everything else, in the bitmap's ranges or not: #GP(0). That covers the
///   performance-monitoring MSRs, Intel PT (0x560-0x57F), the DS area
///   (0x600), PEBS, the power, thermal and frequency MSRs, machine check,
///   x2APIC (0x800-0x8FF), SMRR: CPUIDPolicy hides the features they belong to.
/// - An allow-listed MSR that exited anyway: stop the guest
///   (`unexpectedMSRAccess`), never guess.
public struct MSRPolicy: Sendable {
    /// What RDMSR of IA32_FEATURE_CONTROL returns: bit 0 (lock) only.
    public static let featureControlValue: UInt64 = 0x1

    /// The host's values the guest reads and each guest starts from.
    public let host: HostMSRs
    /// True when VM entry and exit load and save IA32_PAT: then PAT passes
    /// through; else it is emulated here.
    public let patIsSwitched: Bool
    /// This guest's MTRRs.
    public private(set) var mtrrs: MTRRState
    /// Counts changes to `mtrrs` (accepted writes, a new guest's reset): the
    /// backend reflects them in the EPT memory types when it moves.
    public private(set) var mtrrGeneration: UInt64 = 0
    /// This guest's IA32_PAT when it is emulated.
    public private(set) var pat: UInt64 = HostMSRs.resetPAT

    public init(host: HostMSRs = HostMSRs(), patIsSwitched: Bool = true) {
        self.host = host
        self.patIsSwitched = patIsSwitched
        mtrrs = host.mtrrs
    }

    /// Back to the state a new guest starts with: the host's MTRRs, PAT
    /// after reset.
    public mutating func startGuest() {
        mtrrs = host.mtrrs
        mtrrGeneration &+= 1
        pat = HostMSRs.resetPAT
    }

    /// RDMSR: EDX:EAX set (bits 63:32 of RAX and RDX cleared) and advance,
    /// or #GP(0).
    public func handleRead(_ msr: MSR, registers: inout GuestRegisters) -> ExitAction {
        withUnsafePointer(to: self) { Self.handleRead(in: $0, msr, registers: &registers) }
    }

    /// `handleRead` with the policy read in place: the dispatcher's exit
    /// path, inlined there (a non-mutating method copies this policy and
    /// its MTRR tables first, DESIGN.md).
    @inline(__always)
    public static func handleRead(
        in policy: UnsafePointer<Self>, _ msr: MSR, registers: inout GuestRegisters
    ) -> ExitAction {
        if passThrough(msr, patIsSwitched: policy.pointee.patIsSwitched).contains(.reads) {
            return .stopGuest(.unexpectedMSRAccess(msr, isWrite: false))
        }
        guard let value = emulatedValue(in: policy, msr) ?? mtrrValue(in: policy, msr) else {
            return .generalProtectionFault
        }
        registers.rax = value & 0xFFFF_FFFF
        registers.rdx = value >> 32
        return .advance
    }

    /// `handleRead`'s result when it is an `.advance` that takes no
    /// out-of-line work: the value RDMSR returns for an emulated MSR other
    /// than the MTRRs. nil for every other MSR (the MTRRs, #GP(0), an
    /// allow-listed MSR that should not have exited), which `handleRead`
    /// decides. The fast exit path answers with it.
    @inline(__always)
    public static func quickRead(in policy: UnsafePointer<Self>, _ msr: MSR) -> UInt64? {
        if passThrough(msr, patIsSwitched: policy.pointee.patIsSwitched).contains(.reads) { return nil }
        return emulatedValue(in: policy, msr)
    }

    /// The value RDMSR of an intercepted `msr` returns, nil for #GP(0).
    public func readValue(_ msr: MSR) -> UInt64? {
        withUnsafePointer(to: self) { Self.emulatedValue(in: $0, msr) ?? Self.mtrrValue(in: $0, msr) }
    }

    /// The value of an emulated MSR other than the MTRRs; nil for the rest.
    @inline(__always)
    static func emulatedValue(in policy: UnsafePointer<Self>, _ msr: MSR) -> UInt64? {
        switch msr {
        case .featureControl: featureControlValue
        case .apicBase: policy.pointee.host.apicBase
        case .biosSignID: policy.pointee.host.biosSignID
        case .miscEnable: policy.pointee.host.miscEnable
        case .pat: policy.pointee.pat
        case .xss, .packageCStateConfigControl, .powerControl: 0
        default: nil
        }
    }

    /// An MTRR's value; nil for an MTRR this CPU lacks and for every other
    /// MSR. Out of line: reading the MTRR tables copies them (DESIGN.md),
    /// and only MTRR reads should pay for that.
    @inline(never)
    static func mtrrValue(in policy: UnsafePointer<Self>, _ msr: MSR) -> UInt64? {
        MTRRState.isMTRR(msr) ? policy.pointee.mtrrs.read(msr) : nil
    }

    /// WRMSR: emulated (then advance) or #GP(0); see the type's notes.
    public mutating func handleWrite(_ msr: MSR, value: UInt64) -> ExitAction {
        if passThrough(msr).contains(.writes) {
            return .stopGuest(.unexpectedMSRAccess(msr, isWrite: true))
        }
        switch msr {
        case .timeStampCounter, .tscAdjust, .biosUpdateTrigger, .biosSignID, .miscEnable,
             .packageCStateConfigControl, .powerControl:
            return .advance
        case .apicBase:
            return isAcceptedAPICBaseWrite(value) ? .advance : .generalProtectionFault
        case .xss:
            return value == 0 ? .advance : .generalProtectionFault
        case .pat:
            guard Self.isValidPAT(value) else { return .generalProtectionFault }
            pat = value
            return .advance
        default:
            break
        }
        if MTRRState.isMTRR(msr) {
            guard mtrrs.write(msr, value: value) else { return .generalProtectionFault }
            mtrrGeneration &+= 1
            return .advance
        }
        return .generalProtectionFault
    }

    /// IA32_APIC_BASE bits a write may differ in: BSP (bit 8, ignored).
    /// Reserved: 7:0, 9, MAXPHYADDR and above; EXTD (10), EN (11) and the
    /// base (MAXPHYADDR-1:12) must stay as they are.
    ///
    /// Intel SDM Vol. 3A, "Local APIC Status and Location" (11.4.4 in rev. 84)
    public func isAcceptedAPICBaseWrite(_ value: UInt64) -> Bool {
        let width = host.physicalAddressWidth
        let addressMask: UInt64 = width >= 64 ? .max : (1 << UInt64(width)) - 1
        let defined = addressMask & ~0xFFF | 1 << 11 | 1 << 10 | 1 << 8
        guard value & ~defined == 0 else { return false }
        let bsp: UInt64 = 1 << 8
        return value & ~bsp == host.apicBase & ~bsp
    }

    /// Each of the eight PAT entries: bits 2:0 a type other than 2 or 3,
    /// bits 7:3 zero.
    ///
    /// Intel SDM Vol. 3A, "IA32_PAT MSR" (13.12.2 in rev. 84)
    public static func isValidPAT(_ value: UInt64) -> Bool {
        for entry in 0..<8 {
            let type = UInt8(truncatingIfNeeded: value >> UInt64(8 * entry))
            if type > 7 || type == 2 || type == 3 { return false }
        }
        return true
    }

    /// This policy's allow-list entry for `msr`.
    @inline(__always)
    public func passThrough(_ msr: MSR) -> MSRPassThrough {
        Self.passThrough(msr, patIsSwitched: patIsSwitched)
    }
}
