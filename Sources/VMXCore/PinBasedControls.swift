/// Pin-based VM-execution controls (VMCS field 0x4000).
///
/// Bits 1, 2 and 4 are default1 (reserved, reported as must-be-1 by
/// IA32_VMX_PINBASED_CTLS).
///
/// Intel SDM Vol. 3C, "Pin-Based VM-Execution Controls" (25.6.1 in rev. 84).
public struct PinBasedControls: VMXControls {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static var controlSet: VMXControlSet { .pinBased }

    /// Bit 0: external interrupts cause VM exits.
    public static let externalInterruptExiting = Self(rawValue: 1 << 0)
    /// Bit 3: NMIs cause VM exits.
    public static let nmiExiting = Self(rawValue: 1 << 3)
    /// Bit 5: NMIs are never blocked and "blocking by NMI" tracks virtual-NMI blocking.
    public static let virtualNMIs = Self(rawValue: 1 << 5)
    /// Bit 6: activate the VMX-preemption timer.
    public static let activateVMXPreemptionTimer = Self(rawValue: 1 << 6)
    /// Bit 7: process posted interrupts.
    public static let processPostedInterrupts = Self(rawValue: 1 << 7)

    /// The SDM's names of the controls above, by bit.
    static let names: InlineArray<5, (UInt32, StaticString)> = [
        (0, "external-interrupt exiting"),
        (3, "NMI exiting"),
        (5, "virtual NMIs"),
        (6, "activate VMX-preemption timer"),
        (7, "process posted interrupts"),
    ]

    static func name(ofBit bit: Int) -> StaticString? { lookUpName(UInt32(bit), in: names.span) }
}
