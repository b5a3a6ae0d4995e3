import EPT
import VMXCore

/// The host's values behind the MSRs a guest reads but may not change,
/// read once at boot (the MSR policy never touches the hardware).
public struct HostMSRs: Sendable {
    /// IA32_APIC_BASE (0x1B).
    public var apicBase: UInt64
    /// IA32_BIOS_SIGN_ID (0x8B) after the update-signature sequence: the
    /// microcode revision in bits 63:32.
    public var biosSignID: UInt64
    /// IA32_MISC_ENABLE (0x1A0).
    public var miscEnable: UInt64
    /// IA32_PAT (0x277), the guest's starting value when PAT is emulated.
    public var pat: UInt64
    /// MAXPHYADDR (CPUID.80000008H:EAX[7:0], 36 without that leaf).
    public var physicalAddressWidth: UInt8
    /// The MTRRs every guest starts from.
    public var mtrrs: MTRRState

    /// IA32_PAT after reset: WB, WT, UC-, UC, twice (defined once, in EPT,
    /// whose nested page tables rely on it).
    public static var resetPAT: UInt64 { PageAttributeTable.reset.rawValue }

    public init(apicBase: UInt64 = 0xFEE0_0900, biosSignID: UInt64 = 0, miscEnable: UInt64 = 0,
                pat: UInt64 = HostMSRs.resetPAT, physicalAddressWidth: UInt8 = 36,
                mtrrs: MTRRState? = nil) {
        self.apicBase = apicBase
        self.biosSignID = biosSignID
        self.miscEnable = miscEnable
        self.pat = pat
        self.physicalAddressWidth = physicalAddressWidth
        self.mtrrs = mtrrs ?? MTRRState(capabilities: MTRRCapabilities(rawValue: 0),
                                        physicalAddressWidth: physicalAddressWidth)
    }

    /// Reads the host's values. IA32_BIOS_SIGN_ID is read the way the SDM
    /// says: write 0, execute CPUID leaf 1, read.
    ///
    /// Intel SDM Vol. 3A, "Microcode Update Facilities" (10.11 in rev. 84)
    public init<M: MSRAccess, C: CPUIDAccess>(reading msrs: inout M, cpu: C) {
        let maxExtended = cpu.cpuid(leaf: 0x8000_0000).eax
        let width = maxExtended >= 0x8000_0008 ? UInt8(truncatingIfNeeded: cpu.cpuid(leaf: 0x8000_0008).eax) : 36
        let features = cpu.cpuid(leaf: 1).edx
        msrs.write(MSR(0x8B), 0)
        _ = cpu.cpuid(leaf: 1)
        self.init(
            apicBase: msrs.read(.apicBase), biosSignID: msrs.read(MSR(0x8B)),
            miscEnable: msrs.read(MSR(0x1A0)), pat: msrs.read(.pat), physicalAddressWidth: width,
            mtrrs: MTRRState(reading: msrs, physicalAddressWidth: width, hasMTRRs: features & (1 << 12) != 0))
    }
}
