/// The low 32 bits of the ICR: vector (7:0), delivery mode (10:8), level
/// (14), trigger mode (15); destination shorthand 00 (the destination field).
///
/// Intel SDM Vol. 3A, "Interrupt Command Register (ICR)" (11.6.1 in rev. 84).
public struct ICRCommand: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Delivery Status (bit 12, xAPIC): the IPI has not been accepted yet.
    public static let deliveryStatusPending: UInt32 = 1 << 12
    private static let levelAssert: UInt32 = 1 << 14
    private static let deliveryNMI: UInt32 = 0b100 << 8
    private static let deliveryINIT: UInt32 = 0b101 << 8
    private static let deliveryStartup: UInt32 = 0b110 << 8

    /// INIT, level assert, edge: the target resets into wait-for-SIPI (and
    /// is blocked in VMX root operation).
    public static let initAssert = Self(rawValue: deliveryINIT | levelAssert)
    /// NMI to the target.
    public static let nmi = Self(rawValue: deliveryNMI | levelAssert)

    /// STARTUP IPI: the target starts in real mode at `vector` << 12.
    public static func startup(page: UInt64) -> Self {
        Self(rawValue: deliveryStartup | levelAssert | UInt32(truncatingIfNeeded: page >> 12) & 0xFF)
    }
}

