/// CPUID.01H:ECX, the feature bits that matter to a hypervisor.
///
/// Intel SDM Vol. 2A, "CPUID—CPU Identification", Table "Feature Information
/// Returned in the ECX Register" (3.3 in rev. 84).
public struct CPUIDFeaturesECX: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The CPUID leaf that returns these bits in ECX (Feature Information).
    public static let leaf: UInt32 = 1

    /// VMX (bit 5): Virtual Machine Extensions.
    public static let vmx = Self(rawValue: 1 << 5)
    /// SMX (bit 6): Safer Mode Extensions.
    public static let smx = Self(rawValue: 1 << 6)
    /// PCID (bit 17): process-context identifiers.
    public static let pcid = Self(rawValue: 1 << 17)
    /// x2APIC (bit 21).
    public static let x2APIC = Self(rawValue: 1 << 21)
    /// XSAVE (bit 26).
    public static let xsave = Self(rawValue: 1 << 26)
    /// OSXSAVE (bit 27): CR4.OSXSAVE is set.
    public static let osxsave = Self(rawValue: 1 << 27)
    /// Bit 31: reserved on hardware, set by hypervisors ("running under a hypervisor").
    public static let hypervisor = Self(rawValue: 1 << 31)
}

/// Checks that the processor has VMX: CPUID.1:ECX.VMX[bit 5] = 1.
///
/// Intel SDM Vol. 3C, "Discovering Support for VMX" (24.6 in rev. 84).
public func checkVMXSupport<C: CPUIDAccess>(_ cpu: C) throws(VMXError) {
    let ecx = CPUIDFeaturesECX(rawValue: cpu.cpuid(leaf: CPUIDFeaturesECX.leaf).ecx)
    guard ecx.contains(.vmx) else { throw .notSupported }
}
