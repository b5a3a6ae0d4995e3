import VMXCore

/// The EFER bits AMD defines beyond those VMXCore's `EFER` declares (SCE,
/// LME, LMA, NXE, and SVME).
///
/// AMD APM Vol. 2, "Extended Feature Enable Register (EFER)" (3.1.7 in rev. 3.42).
extension EFER {
    /// Bit 13: long mode segment limit enable.
    public static let lmsle = Self(rawValue: 1 << 13)
    /// Bit 14: fast FXSAVE/FXRSTOR.
    public static let ffxsr = Self(rawValue: 1 << 14)
    /// Bit 15: translation cache extension.
    public static let tce = Self(rawValue: 1 << 15)
    /// Bit 17: MCOMMIT instruction enable.
    public static let mcommit = Self(rawValue: 1 << 17)
    /// Bit 18: interruptible WBINVD/WBNOINVD enable.
    public static let intwb = Self(rawValue: 1 << 18)
    /// Bit 20: upper address ignore enable.
    public static let uaie = Self(rawValue: 1 << 20)
    /// Bit 21: automatic IBRS enable.
    public static let aibrse = Self(rawValue: 1 << 21)

    /// The bits AMD processors define (rev. 3.42); all others (1-7, 9, 16,
    /// 19, 22-63) are reserved, MBZ.
    public static let amdDefined: Self = [.sce, .lme, .lma, .nxe, .svme, .lmsle, .ffxsr, .tce, .mcommit, .intwb, .uaie, .aibrse]
}
