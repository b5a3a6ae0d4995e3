import VMXCore

/// CPUID as the guest sees it (Guest/README.md, "CPUID as a guest sees it"):
/// the real processor's answers from a `CPUIDTable`, except
///
/// - leaf 1: ECX bit 5 (VMX) clear, ECX bit 31 (hypervisor present) set,
///   ECX bit 27 (OSXSAVE) = the guest's CR4.OSXSAVE;
/// - leaf 7 subleaf 0: ECX bit 4 (OSPKE) = the guest's CR4.PKE;
/// - what the MSR policy does not virtualize (its MSRs raise #GP(0)) is
///   hidden: leaf 1 ECX SMX, DTES64, DS-CPL, EST, TM2, PDCM, x2APIC and
///   EDX MCE, MCA, DS, ACPI, TM; leaf 6 all but ARAT; leaf 7 subleaf 0 EBX
///   SGX, RDT-M, MPX, RDT-A, Intel PT and EDX IA32_CORE_CAPABILITIES; the
///   architectural PMU leaf 0xA, RDT leaves 0xF and 0x10, SGX leaf 0x12 and
///   Intel PT leaf 0x14 all zero; leaf 0xD subleaf 1 ECX and EDX zero (no
///   supervisor state components: IA32_XSS is 0);
/// - leaf 0x80000001 ECX: SVM, SKINIT and the AMD performance-counter
///   extensions (core, northbridge, last-level cache) clear; leaf
///   0x8000000A (SVM features) all zero: the guest has no AMD-V, and those
///   counters' MSRs raise #GP(0); leaves 0x8000001F (SME/SEV memory
///   encryption: MSR_AMD64_SEV and SYSCFG raise #GP(0), and Linux's
///   decompressor reads the MSR as soon as the leaf reports SEV), 0x80000020
///   (platform QoS) and 0x80000022 (performance monitoring v2) all zero;
/// - leaf 0xD subleaf 0: EBX = the XSAVE area size for the guest's XCR0
///   (the cached value is the boot-time host's);
/// - leaf 0x40000000: EAX = 0x40000001, EBX = ECX = EDX = "pxHV";
/// - leaf 0x40000001: EAX = 1 (hypercall ABI version), the rest 0.
///
/// Answers go to RAX, RBX, RCX, RDX with bits 63:32 cleared; then advance.
///
/// Answered from `CPUIDCache` (read once at boot), not by executing CPUID
/// on each exit and fixing the result up. Measured side by side (one build
/// each, the test guest's CPUID leaf 0 round trip under Bochs, fast exit
/// path): the table 115 instructions, the real CPUID plus the same fix-ups
/// (the hypervisor leaves, leaf 0/0x80000000's capped maxima, the fix-up
/// switch) 119. The table wins even under Bochs, which flatters the real
/// instruction: there CPUID retires as one instruction, while on hardware
/// it is a serializing instruction of 100+ cycles, and when pxHV itself
/// runs nested it is a VM exit to the outer hypervisor. The table also keeps
/// the guest's view fixed from boot (capped maximum leaves, the SDM's rule
/// for unknown leaves) whatever the live CPU answers later.
public enum CPUIDPolicy {
    /// First hypervisor leaf.
    public static let hypervisorLeaf: UInt32 = 0x4000_0000
    /// "pxHV" as a little-endian 32-bit register: bytes 'p' 'x' 'H' 'V'.
    public static let signature: UInt32 = 0x5648_7870
    /// Guest/README.md hypercall ABI version (leaf 0x40000001 EAX).
    public static let hypercallABIVersion: UInt32 = 1

    /// Leaf 1 ECX bits hidden: VMX and SMX (no VMX/SMX for the guest); the
    /// debug store, SpeedStep, thermal and PMU capability features, whose
    /// MSRs raise #GP(0); x2APIC (IA32_APIC_BASE cannot switch modes).
    public static let hiddenLeaf1ECX: CPUIDFeaturesECX = [.vmx, .smx, .dtes64, .dsCPL, .est, .tm2, .pdcm, .x2APIC]
    /// Leaf 1 EDX bits hidden: machine check (IA32_MCG_*/MCi_* raise
    /// #GP(0)), debug store, thermal monitor and clock control.
    public static let hiddenLeaf1EDX: CPUIDFeaturesEDX = [.mce, .mca, .ds, .acpi, .tm]
    /// Leaf 7 subleaf 0 EBX bits hidden: their MSRs raise #GP(0).
    public static let hiddenLeaf7EBX: CPUIDExtendedFeaturesEBX = [
        .sgx, .rdtMonitoring, .mpx, .rdtAllocation, .processorTrace,
    ]

    /// Leaf 0x80000001 ECX bits hidden (AMD APM Vol. 3, "CPUID Fn8000_0001_ECX"):
    /// SVM (2), SKINIT (12), PerfCtrExtCore (23), PerfCtrExtNB (24),
    /// PerfCtrExtLLC (28). Reserved (0) on Intel.
    public static let hiddenLeaf80000001ECX: UInt32 = 1 << 2 | 1 << 12 | 1 << 23 | 1 << 24 | 1 << 28
    /// AMD's SVM feature leaf.
    public static let svmFeatureLeaf: UInt32 = 0x8000_000A

    /// CR4.OSXSAVE (bit 18), CR4.PKE (bit 22).
    static let cr4OSXSAVE: UInt64 = 1 << 18
    static let cr4PKE: UInt64 = 1 << 22

    /// True for the leaves whose answer depends on the guest's CR4 (1:
    /// OSXSAVE, 7: OSPKE): the exit path reads the guest CR4 (three VMREADs)
    /// only for them; every other leaf may be given any `guestCR4`.
    @inline(__always)
    public static func readsGuestCR4(leaf: UInt32) -> Bool {
        leaf == CPUIDFeaturesECX.leaf || leaf == 0x7
    }

    /// The guest's answer. `guestXCR0` is the value the guest last loaded
    /// (1 after reset).
    public static func answer<Table: CPUIDTable>(
        leaf: UInt32, subleaf: UInt32, table: Table, guestCR4: UInt64, guestXCR0: UInt64
    ) -> CPUIDResult {
        withUnsafePointer(to: table) {
            answer(leaf: leaf, subleaf: subleaf, tableAt: $0, guestCR4: guestCR4, guestXCR0: guestXCR0)
        }
    }

    /// `answer` with the table read in place (the exit path: no copy of it).
    /// Inlined there; the rare work is out of line (`CPUIDCache.lookupOther`,
    /// `xsaveAreaSize`).
    @inline(__always)
    public static func answer<Table: CPUIDTable>(
        leaf: UInt32, subleaf: UInt32, tableAt table: UnsafePointer<Table>, guestCR4: UInt64, guestXCR0: UInt64
    ) -> CPUIDResult {
        if let own = hypervisorAnswer(leaf: leaf) { return own }
        return fixedUp(Table.lookup(in: table, leaf: leaf, subleaf: subleaf), leaf: leaf, subleaf: subleaf,
                       guestCR4: guestCR4, xsaveAreaSize: xsaveAreaSize(for: guestXCR0, tableAt: table))
    }

    /// `answer` when it takes no out-of-line work, nil otherwise: the
    /// hypervisor leaves, and the leaves the table answers by one index
    /// (`CPUIDTable.quickLookup`) with their fix-ups, except leaf 0xD
    /// subleaf 0 (its XSAVE size is a loop over the table). Where it is
    /// not nil it is `answer`'s result. The fast exit path answers with it
    /// and leaves everything else to the exit loop's `answer`. The guest's
    /// CR4 is read only for the leaves that show it (1 and 7).
    @inline(__always)
    public static func quickAnswer<Table: CPUIDTable>(
        leaf: UInt32, subleaf: UInt32, tableAt table: UnsafePointer<Table>, guestCR4: @autoclosure () -> UInt64,
        guestXCR0: UInt64
    ) -> CPUIDResult? {
        // The hypervisor leaves are above every basic leaf the table has.
        guard let result = Table.quickLookup(in: table, leaf: leaf, subleaf: subleaf) else {
            return hypervisorAnswer(leaf: leaf)
        }
        if !adjusts(leaf: leaf) { return result }
        if leaf == 0xD && subleaf == 0 { return nil }
        // (The XSAVE size is read for leaf 0xD subleaf 0 alone, just excluded.)
        return fixedUp(result, leaf: leaf, subleaf: subleaf, guestCR4: guestCR4(), xsaveAreaSize: 0)
    }

    /// The leaves `fixedUp` may change, one bit each (all below 32).
    static let adjustedLeaves: UInt32 = 1 << 0x1 | 1 << 0x6 | 1 << 0x7 | 1 << 0xA | 1 << 0xD | 1 << 0xF
        | 1 << 0x10 | 1 << 0x12 | 1 << 0x14

    /// False when `fixedUp` returns a result for `leaf` unchanged (one bit
    /// test: the fast path's leaf 0 is not compared with each case).
    @inline(__always)
    static func adjusts(leaf: UInt32) -> Bool {
        leaf >= 32 || adjustedLeaves & (1 << leaf) != 0
    }

    /// Leaves 0x40000000 and 0x40000001, nil for every other leaf.
    @inline(__always)
    static func hypervisorAnswer(leaf: UInt32) -> CPUIDResult? {
        switch leaf {
        case hypervisorLeaf:
            CPUIDResult(eax: hypervisorLeaf + 1, ebx: signature, ecx: signature, edx: signature)
        case hypervisorLeaf + 1:
            CPUIDResult(eax: hypercallABIVersion, ebx: 0, ecx: 0, edx: 0)
        default:
            nil
        }
    }

    /// The table's answer for (`leaf`, `subleaf`) with the policy's
    /// adjustments (see the type's notes). `guestCR4` is evaluated for
    /// leaves 1 and 7 only, `xsaveAreaSize` (leaf 0xD subleaf 0's EBX: the
    /// size for the guest's XCR0) for that leaf only.
    @inline(__always)
    static func fixedUp(
        _ result: CPUIDResult, leaf: UInt32, subleaf: UInt32, guestCR4: @autoclosure () -> UInt64,
        xsaveAreaSize: @autoclosure () -> UInt32
    ) -> CPUIDResult {
        var result = result
        // The table may have mapped an unknown leaf onto the highest basic
        // one: the adjustments below follow the leaf actually answered only
        // for the leaves the guest named.
        switch leaf {
        case CPUIDFeaturesECX.leaf:
            var ecx = CPUIDFeaturesECX(rawValue: result.ecx)
            ecx.subtract(hiddenLeaf1ECX)
            ecx.insert(.hypervisor)
            if guestCR4() & cr4OSXSAVE != 0 { ecx.insert(.osxsave) } else { ecx.remove(.osxsave) }
            result.ecx = ecx.rawValue
            result.edx &= ~hiddenLeaf1EDX.rawValue
        case 0x6:
            result = CPUIDResult(eax: result.eax & CPUIDThermalPowerEAX.alwaysRunningAPICTimer.rawValue,
                                 ebx: 0, ecx: 0, edx: 0)
        case 0x7 where subleaf == 0:
            result.ecx = guestCR4() & cr4PKE != 0 ? result.ecx | (1 << 4) : result.ecx & ~(1 << 4)
            result.ebx &= ~hiddenLeaf7EBX.rawValue
            result.edx &= ~CPUIDExtendedFeaturesEDX.coreCapabilities.rawValue
        case 0xA, 0xF, 0x10, 0x12, 0x14:
            result = CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
        case 0xD where subleaf == 0:
            result.ebx = xsaveAreaSize()
        case 0xD where subleaf == 1:
            // No supervisor state components: IA32_XSS stays 0.
            result.ecx = 0
            result.edx = 0
        case 0x8000_0001:
            result.ecx &= ~hiddenLeaf80000001ECX
        case svmFeatureLeaf, 0x8000_001F, 0x8000_0020, 0x8000_0022:
            result = CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
        default:
            break
        }
        return result
    }

    /// Bytes of a standard-format XSAVE area for the components in `xcr0`:
    /// 576 (legacy region + header) or the end of the highest enabled
    /// component (CPUID.(0xD, i): EBX = offset, EAX = size).
    public static func xsaveAreaSize<Table: CPUIDTable>(for xcr0: UInt64, table: Table) -> UInt32 {
        withUnsafePointer(to: table) { xsaveAreaSize(for: xcr0, tableAt: $0) }
    }

    @inline(never)
    static func xsaveAreaSize<Table: CPUIDTable>(for xcr0: UInt64, tableAt table: UnsafePointer<Table>) -> UInt32 {
        var size: UInt32 = 576
        var component: UInt32 = 2
        while component < 63 {
            if xcr0 & (1 << UInt64(component)) != 0 {
                let geometry = Table.lookup(in: table, leaf: 0xD, subleaf: component)
                size = max(size, geometry.ebx &+ geometry.eax)
            }
            component += 1
        }
        return size
    }

    /// Answers into the registers and advances.
    public static func handle<Table: CPUIDTable>(
        leaf: UInt32, subleaf: UInt32, table: Table, guestCR4: UInt64, guestXCR0: UInt64,
        registers: inout GuestRegisters
    ) -> ExitAction {
        withUnsafePointer(to: table) {
            handle(leaf: leaf, subleaf: subleaf, tableAt: $0, guestCR4: guestCR4, guestXCR0: guestXCR0,
                   registers: &registers)
        }
    }

    /// `handle` with the table read in place: the dispatcher's exit path.
    @inline(__always)
    public static func handle<Table: CPUIDTable>(
        leaf: UInt32, subleaf: UInt32, tableAt table: UnsafePointer<Table>, guestCR4: UInt64, guestXCR0: UInt64,
        registers: inout GuestRegisters
    ) -> ExitAction {
        let result = answer(leaf: leaf, subleaf: subleaf, tableAt: table, guestCR4: guestCR4, guestXCR0: guestXCR0)
        registers.setResult(eax: result.eax, ebx: result.ebx, ecx: result.ecx, edx: result.edx)
        return .advance
    }
}
