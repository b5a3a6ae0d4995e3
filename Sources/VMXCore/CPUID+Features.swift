/// CPUID feature bits the guest CPUID policy hides (VMExit's `CPUIDPolicy`),
/// named as in Intel SDM Vol. 2A, "CPUID—CPU Identification", Table 3-10
/// "Feature Information Returned in the ECX Register", Table 3-11 (EDX) and
/// Table 3-8 (leaf 07H).
extension CPUIDFeaturesECX {
    /// DTES64 (bit 2): 64-bit DS area layout.
    public static let dtes64 = Self(rawValue: 1 << 2)
    /// DS-CPL (bit 4): CPL-qualified debug store.
    public static let dsCPL = Self(rawValue: 1 << 4)
    /// EST (bit 7): Enhanced Intel SpeedStep (IA32_PERF_CTL).
    public static let est = Self(rawValue: 1 << 7)
    /// TM2 (bit 8): Thermal Monitor 2.
    public static let tm2 = Self(rawValue: 1 << 8)
    /// PDCM (bit 15): IA32_PERF_CAPABILITIES.
    public static let pdcm = Self(rawValue: 1 << 15)
}

/// CPUID.01H:EDX.
public struct CPUIDFeaturesEDX: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// MCE (bit 7): machine-check exception.
    public static let mce = Self(rawValue: 1 << 7)
    /// MTRR (bit 12).
    public static let mtrr = Self(rawValue: 1 << 12)
    /// MCA (bit 14): machine-check architecture (IA32_MCG_*, IA32_MCi_*).
    public static let mca = Self(rawValue: 1 << 14)
    /// DS (bit 21): debug store (IA32_DS_AREA, BTS, PEBS).
    public static let ds = Self(rawValue: 1 << 21)
    /// ACPI (bit 22): thermal monitor and software clock control MSRs.
    public static let acpi = Self(rawValue: 1 << 22)
    /// TM (bit 29): thermal monitor.
    public static let tm = Self(rawValue: 1 << 29)
}

/// CPUID.(EAX=07H,ECX=0):EBX.
public struct CPUIDExtendedFeaturesEBX: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// SGX (bit 2).
    public static let sgx = Self(rawValue: 1 << 2)
    /// RDT-M (bit 12): resource director monitoring (IA32_QM_*, IA32_PQR_ASSOC).
    public static let rdtMonitoring = Self(rawValue: 1 << 12)
    /// MPX (bit 14): IA32_BNDCFGS.
    public static let mpx = Self(rawValue: 1 << 14)
    /// RDT-A (bit 15): resource director allocation.
    public static let rdtAllocation = Self(rawValue: 1 << 15)
    /// Intel Processor Trace (bit 25).
    public static let processorTrace = Self(rawValue: 1 << 25)
}

/// CPUID.(EAX=07H,ECX=0):EDX.
public struct CPUIDExtendedFeaturesEDX: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// IA32_CORE_CAPABILITIES (bit 30).
    public static let coreCapabilities = Self(rawValue: 1 << 30)
}

/// CPUID.06H:EAX (thermal and power management).
public struct CPUIDThermalPowerEAX: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// ARAT (bit 2): the APIC timer always runs, in every C-state.
    public static let alwaysRunningAPICTimer = Self(rawValue: 1 << 2)
}
