extension VMCSGuestState {
    /// The state an INIT signal leaves a processor in, waiting for a
    /// start-up IPI: what an application processor's vCPU begins in, and
    /// what a guest's INIT resets it to.
    ///
    /// Intel SDM Vol. 3A, "IA-32 and Intel 64 Processor States Following
    /// Power-up, Reset, or INIT" (Table 10-1 in rev. 84):
    /// - EFLAGS 0x2; EIP 0xFFF0; CR2 = CR3 = CR4 = 0; IA32_EFER 0;
    /// - CR0 0x60000010 after power-up or reset; INIT keeps CD and NW and
    ///   sets ET, clearing the rest (`keepingCacheControlOf`);
    /// - CS selector 0xF000, base 0xFFFF0000, limit 0xFFFF, present,
    ///   read/write, accessed (0x9B); SS, DS, ES, FS, GS selector 0, base 0,
    ///   limit 0xFFFF, present, read/write, accessed (0x93);
    /// - GDTR, IDTR base 0, limit 0xFFFF; LDTR selector 0, base 0, limit
    ///   0xFFFF, present, read/write (an LDT, type 2: 0x82);
    /// - TR the same but a busy TSS (VM entry refuses an LDT-typed or an
    ///   unusable TR: Vol. 3C, "Checks on Guest Segment Registers");
    /// - DR7 0x400; the SYSENTER MSRs and DEBUGCTL 0.
    /// IA32_PAT is not changed by INIT (Vol. 3A, "Programming the PAT"):
    /// the caller passes the one the guest had (the power-up value first).
    /// General registers are not part of the VMCS: EDX holds the processor
    /// signature (CPUID leaf 1 EAX) and the others 0; the caller sets them.
    ///
    /// The activity state is wait-for-SIPI (3), which the CPU must support
    /// (IA32_VMX_MISC bit 8; `VMEntryChecker` checks it). In VMX non-root
    /// operation that state holds the vCPU until a SIPI, which is a VM exit
    /// (basic reason 4) and not a start: the hypervisor then starts it with
    /// `startingAt(vector:)` (Vol. 3C, "Activity State" in "VM Entries").
    /// Apply the fixed bits before writing (CR0.NE; unrestricted guest
    /// needed for PE = PG = 0).
    public static func afterINIT(keepingCacheControlOf previousCR0: CR0 = [.cd, .nw], pat: UInt64 = defaultPAT) -> Self {
        let data = SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: .realModeData)
        return Self(
            cr0: previousCR0.intersection([.cd, .nw]).union(.et), cr3: 0, cr4: [], rsp: 0, rip: 0xFFF0,
            es: data,
            cs: SegmentRegister(selector: 0xF000, base: 0xFFFF_0000, limit: 0xFFFF, accessRights: .realModeCode),
            ss: data, ds: data, fs: data, gs: data,
            ldtr: SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: .ldt),
            tr: SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: .busyTSS),
            gdtr: DescriptorTableRegister(base: 0, limit: 0xFFFF),
            idtr: DescriptorTableRegister(base: 0, limit: 0xFFFF),
            pat: pat, efer: [], activityState: .waitForSIPI)
    }
}

/// A start-up IPI's vector and where it starts a processor waiting for one.
///
/// Intel SDM Vol. 3A, "MP Initialization Protocol Algorithm for MP
/// Systems" and Vol. 3C, "Startup IPI" in "VMX Non-Root Operation": the
/// processor starts in real mode at CS:IP = VV00:0000, CS base VV000 (the
/// 4 KiB page the vector names, below 1 MiB); the exit qualification of a
/// SIPI VM exit holds the vector in bits 7:0.
public struct StartupIPI: Hashable, Sendable {
    public var vector: UInt8

    public init(vector: UInt8) { self.vector = vector }

    /// From a SIPI exit's qualification (bits 63:8 are reserved, ignored).
    public init(exitQualification: UInt64) { vector = UInt8(truncatingIfNeeded: exitQualification) }

    /// CS selector: vector << 8.
    public var codeSelector: UInt16 { UInt16(vector) << 8 }
    /// CS base: vector << 12, the start page.
    public var codeBase: UInt64 { UInt64(vector) << 12 }
    /// IP: 0.
    public var instructionPointer: UInt64 { 0 }
}

extension VMCSGuestState {
    /// This state (a processor waiting for SIPI) started by `sipi`: CS as
    /// the SIPI says (the rest of CS as INIT left it), RIP 0, active.
    public func startingAt(_ sipi: StartupIPI) -> Self {
        var copy = self
        copy.cs.selector = sipi.codeSelector
        copy.cs.base = sipi.codeBase
        copy.rip = sipi.instructionPointer
        copy.activityState = .active
        return copy
    }
}
