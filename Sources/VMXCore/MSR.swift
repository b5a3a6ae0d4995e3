import Primitives

/// A model-specific register number, as used by RDMSR/WRMSR (ECX).
///
/// Open: any number can be expressed (`MSR(rawValue: 0x1234)`); the static
/// members name the registers the hypervisor uses. Each member's doc gives
/// the SDM name, which `name` also returns for messages.
///
/// Intel SDM Vol. 4, "Architectural MSRs" (2.1 in rev. 84).
public struct MSR: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
}

extension MSR {
    /// IA32_TIME_STAMP_COUNTER (0x10).
    public static let timeStampCounter = MSR(0x10)
    /// IA32_APIC_BASE (0x1B).
    public static let apicBase = MSR(0x1B)
    /// IA32_FEATURE_CONTROL (0x3A): lock and VMX-enable bits.
    public static let featureControl = MSR(0x3A)
    /// IA32_MTRRCAP (0xFE).
    public static let mtrrCapabilities = MSR(0xFE)
    /// IA32_SYSENTER_CS (0x174).
    public static let sysenterCS = MSR(0x174)
    /// IA32_SYSENTER_ESP (0x175).
    public static let sysenterESP = MSR(0x175)
    /// IA32_SYSENTER_EIP (0x176).
    public static let sysenterEIP = MSR(0x176)
    /// IA32_DEBUGCTL (0x1D9). Not implemented by Bochs 2.7 (reads 0, logged).
    public static let debugControl = MSR(0x1D9)
    /// IA32_PAT (0x277).
    public static let pat = MSR(0x277)
    /// IA32_MTRR_DEF_TYPE (0x2FF).
    public static let mtrrDefaultType = MSR(0x2FF)
    /// IA32_PERF_GLOBAL_CTRL (0x38F).
    public static let perfGlobalControl = MSR(0x38F)

    /// IA32_VMX_BASIC (0x480). Intel SDM Vol. 3D, "Basic VMX Information" (A.1 in rev. 84).
    public static let vmxBasic = MSR(0x480)
    /// IA32_VMX_PINBASED_CTLS (0x481).
    public static let vmxPinBasedControls = MSR(0x481)
    /// IA32_VMX_PROCBASED_CTLS (0x482).
    public static let vmxPrimaryProcessorControls = MSR(0x482)
    /// IA32_VMX_EXIT_CTLS (0x483).
    public static let vmxExitControls = MSR(0x483)
    /// IA32_VMX_ENTRY_CTLS (0x484).
    public static let vmxEntryControls = MSR(0x484)
    /// IA32_VMX_MISC (0x485).
    public static let vmxMiscellaneous = MSR(0x485)
    /// IA32_VMX_CR0_FIXED0 (0x486).
    public static let vmxCR0Fixed0 = MSR(0x486)
    /// IA32_VMX_CR0_FIXED1 (0x487).
    public static let vmxCR0Fixed1 = MSR(0x487)
    /// IA32_VMX_CR4_FIXED0 (0x488).
    public static let vmxCR4Fixed0 = MSR(0x488)
    /// IA32_VMX_CR4_FIXED1 (0x489).
    public static let vmxCR4Fixed1 = MSR(0x489)
    /// IA32_VMX_VMCS_ENUM (0x48A).
    public static let vmxVMCSEnumeration = MSR(0x48A)
    /// IA32_VMX_PROCBASED_CTLS2 (0x48B).
    public static let vmxSecondaryProcessorControls = MSR(0x48B)
    /// IA32_VMX_EPT_VPID_CAP (0x48C).
    public static let vmxEPTVPIDCapability = MSR(0x48C)
    /// IA32_VMX_TRUE_PINBASED_CTLS (0x48D).
    public static let vmxTruePinBasedControls = MSR(0x48D)
    /// IA32_VMX_TRUE_PROCBASED_CTLS (0x48E).
    public static let vmxTruePrimaryProcessorControls = MSR(0x48E)
    /// IA32_VMX_TRUE_EXIT_CTLS (0x48F).
    public static let vmxTrueExitControls = MSR(0x48F)
    /// IA32_VMX_TRUE_ENTRY_CTLS (0x490).
    public static let vmxTrueEntryControls = MSR(0x490)
    /// IA32_VMX_VMFUNC (0x491).
    public static let vmxVMFunctions = MSR(0x491)

    /// IA32_BNDCFGS (0xD90).
    public static let bndcfgs = MSR(0xD90)
    /// IA32_EFER (0xC0000080).
    public static let efer = MSR(0xC000_0080)
    /// IA32_STAR (0xC0000081).
    public static let star = MSR(0xC000_0081)
    /// IA32_LSTAR (0xC0000082).
    public static let lstar = MSR(0xC000_0082)
    /// IA32_CSTAR (0xC0000083).
    public static let cstar = MSR(0xC000_0083)
    /// IA32_FMASK (0xC0000084).
    public static let fmask = MSR(0xC000_0084)
    /// IA32_FS_BASE (0xC0000100).
    public static let fsBase = MSR(0xC000_0100)
    /// IA32_GS_BASE (0xC0000101).
    public static let gsBase = MSR(0xC000_0101)
    /// IA32_KERNEL_GS_BASE (0xC0000102).
    public static let kernelGSBase = MSR(0xC000_0102)
    /// IA32_TSC_AUX (0xC0000103).
    public static let tscAux = MSR(0xC000_0103)

    /// VM_CR (0xC0010114, AMD): SVM lock (bit 3) and SVMDIS (bit 4).
    /// Exists only when CPUID 80000001h:ECX.SVM = 1 (reads #GP otherwise).
    /// AMD APM Vol. 2, "VM_CR MSR (C001_0114h)" (15.30.1 in rev. 3.42).
    public static let vmCR = MSR(0xC001_0114)
    /// VM_HSAVE_PA (0xC0010117, AMD): physical address of the 4 KiB host
    /// save area VMRUN writes the host state to.
    /// AMD APM Vol. 2, "VM_HSAVE_PA MSR (C001_0117h)" (15.30.4 in rev. 3.42).
    public static let vmHostSaveAreaPA = MSR(0xC001_0117)
}

extension MSR {
    /// The SDM names of the registers above, by number.
    static let names: InlineArray<41, (UInt32, StaticString)> = [
        (0x10, "IA32_TIME_STAMP_COUNTER"),
        (0x1B, "IA32_APIC_BASE"),
        (0x3A, "IA32_FEATURE_CONTROL"),
        (0xFE, "IA32_MTRRCAP"),
        (0x174, "IA32_SYSENTER_CS"),
        (0x175, "IA32_SYSENTER_ESP"),
        (0x176, "IA32_SYSENTER_EIP"),
        (0x1D9, "IA32_DEBUGCTL"),
        (0x277, "IA32_PAT"),
        (0x2FF, "IA32_MTRR_DEF_TYPE"),
        (0x38F, "IA32_PERF_GLOBAL_CTRL"),
        (0x480, "IA32_VMX_BASIC"),
        (0x481, "IA32_VMX_PINBASED_CTLS"),
        (0x482, "IA32_VMX_PROCBASED_CTLS"),
        (0x483, "IA32_VMX_EXIT_CTLS"),
        (0x484, "IA32_VMX_ENTRY_CTLS"),
        (0x485, "IA32_VMX_MISC"),
        (0x486, "IA32_VMX_CR0_FIXED0"),
        (0x487, "IA32_VMX_CR0_FIXED1"),
        (0x488, "IA32_VMX_CR4_FIXED0"),
        (0x489, "IA32_VMX_CR4_FIXED1"),
        (0x48A, "IA32_VMX_VMCS_ENUM"),
        (0x48B, "IA32_VMX_PROCBASED_CTLS2"),
        (0x48C, "IA32_VMX_EPT_VPID_CAP"),
        (0x48D, "IA32_VMX_TRUE_PINBASED_CTLS"),
        (0x48E, "IA32_VMX_TRUE_PROCBASED_CTLS"),
        (0x48F, "IA32_VMX_TRUE_EXIT_CTLS"),
        (0x490, "IA32_VMX_TRUE_ENTRY_CTLS"),
        (0x491, "IA32_VMX_VMFUNC"),
        (0xD90, "IA32_BNDCFGS"),
        (0xC000_0080, "IA32_EFER"),
        (0xC000_0081, "IA32_STAR"),
        (0xC000_0082, "IA32_LSTAR"),
        (0xC000_0083, "IA32_CSTAR"),
        (0xC000_0084, "IA32_FMASK"),
        (0xC000_0100, "IA32_FS_BASE"),
        (0xC000_0101, "IA32_GS_BASE"),
        (0xC000_0102, "IA32_KERNEL_GS_BASE"),
        (0xC000_0103, "IA32_TSC_AUX"),
        (0xC001_0114, "VM_CR"),
        (0xC001_0117, "VM_HSAVE_PA"),
    ]

    /// The SDM name ("IA32_VMX_BASIC"), or nil for a number without a static member.
    public var name: StaticString? { lookUpName(rawValue, in: Self.names.span) }

    /// "IA32_VMX_BASIC (0x480)", or "MSR 0x1234" for an unnamed number.
    public var label: Message {
        if let name { return Message(template: "{name} ({hex})", UInt64(rawValue), name: name) }
        return Message(template: "MSR {hex}", UInt64(rawValue))
    }
}
