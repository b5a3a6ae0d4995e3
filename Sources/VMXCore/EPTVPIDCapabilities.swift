import Primitives

/// IA32_VMX_EPT_VPID_CAP (MSR 0x48C), decoded.
///
/// Exists only when the secondary controls allow "enable EPT" or "enable VPID".
///
/// Intel SDM Vol. 3D, "VPID and EPT Capabilities" (A.10 in rev. 84).
public struct EPTVPIDCapabilities: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: EPT entries may be execute-only (R=0, W=0, X=1).
    public var supportsExecuteOnly: Bool { rawValue[bit: 0] }
    /// Bit 6: a page-walk length of 4 is supported.
    public var supportsPageWalkLength4: Bool { rawValue[bit: 6] }
    /// Bit 7: a page-walk length of 5 is supported.
    public var supportsPageWalkLength5: Bool { rawValue[bit: 7] }
    /// Bit 8: the EPT paging structures may be uncacheable (UC).
    public var supportsUncacheable: Bool { rawValue[bit: 8] }
    /// Bit 14: the EPT paging structures may be write-back (WB).
    public var supportsWriteBack: Bool { rawValue[bit: 14] }
    /// Bit 16: an EPT PDE may map a 2 MiB page.
    public var supports2MiBPages: Bool { rawValue[bit: 16] }
    /// Bit 17: an EPT PDPTE may map a 1 GiB page.
    public var supports1GiBPages: Bool { rawValue[bit: 17] }
    /// Bit 20: INVEPT is supported.
    public var supportsINVEPT: Bool { rawValue[bit: 20] }
    /// Bit 21: accessed and dirty flags for EPT.
    public var supportsAccessedDirtyFlags: Bool { rawValue[bit: 21] }
    /// Bit 22: EPT violations report advanced VM-exit information.
    public var reportsAdvancedEPTViolationInformation: Bool { rawValue[bit: 22] }
    /// Bit 23: supervisor shadow-stack control.
    public var supportsSupervisorShadowStackControl: Bool { rawValue[bit: 23] }
    /// Bit 25: single-context INVEPT.
    public var supportsSingleContextINVEPT: Bool { rawValue[bit: 25] }
    /// Bit 26: all-context INVEPT.
    public var supportsAllContextINVEPT: Bool { rawValue[bit: 26] }
    /// Bit 32: INVVPID is supported.
    public var supportsINVVPID: Bool { rawValue[bit: 32] }
    /// Bit 40: individual-address INVVPID.
    public var supportsIndividualAddressINVVPID: Bool { rawValue[bit: 40] }
    /// Bit 41: single-context INVVPID.
    public var supportsSingleContextINVVPID: Bool { rawValue[bit: 41] }
    /// Bit 42: all-context INVVPID.
    public var supportsAllContextINVVPID: Bool { rawValue[bit: 42] }
    /// Bit 43: single-context-retaining-globals INVVPID.
    public var supportsSingleContextRetainingGlobalsINVVPID: Bool { rawValue[bit: 43] }
}
