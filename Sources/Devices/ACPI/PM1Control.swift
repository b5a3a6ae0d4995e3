import Primitives
/// The PM1 control register (PM1a_CNT / PM1b_CNT), 16 bits.
///
/// ACPI 6.5, "PM1 Control Registers" (4.8.4.2.1)
public struct PM1Control: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// SCI_EN, bit 0: power-management events raise an SCI (ACPI mode).
    public var sciEnable: Bool {
        get { rawValue[bit: 0] }
        set { rawValue[bit: 0] = newValue }
    }
    /// BM_RLD, bit 1.
    public var busMasterReload: Bool {
        get { rawValue[bit: 1] }
        set { rawValue[bit: 1] = newValue }
    }
    /// GBL_RLS, bit 2 (write-only).
    public var globalRelease: Bool {
        get { rawValue[bit: 2] }
        set { rawValue[bit: 2] = newValue }
    }
    /// SLP_TYPx, bits 12:10: the sleep state to enter, from `\_Sx`.
    public var sleepType: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue[bits: 10...12]) }
        set { rawValue[bits: 10...12] = UInt16(newValue) }
    }
    /// SLP_EN, bit 13 (write-only): enter the state in SLP_TYPx.
    public var sleepEnable: Bool {
        get { rawValue[bit: 13] }
        set { rawValue[bit: 13] = newValue }
    }

    /// Bits software must carry over when it writes the register: SCI_EN
    /// (bit 0) and the ignored bit 9 (ACPICA's ACPI_PM1_CONTROL_PRESERVED_BITS).
    public static let preservedBits: UInt16 = 0x0201
}
