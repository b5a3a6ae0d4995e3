import Primitives

/// A memory type encoding, as used by IA32_VMX_BASIC[53:50], EPT entries,
/// the EPTP, PAT and MTRRs.
///
/// Intel SDM Vol. 3A, "Memory Types and Their Properties" (13.3 in rev. 84).
public struct MemoryType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// UC (0): uncacheable.
    public static let uncacheable = Self(rawValue: 0)
    /// WC (1): write combining.
    public static let writeCombining = Self(rawValue: 1)
    /// WT (4): write-through.
    public static let writeThrough = Self(rawValue: 4)
    /// WP (5): write-protected.
    public static let writeProtected = Self(rawValue: 5)
    /// WB (6): write-back.
    public static let writeBack = Self(rawValue: 6)

    /// "UC", "WC", "WT", "WP", "WB", or "type N".
    public var abbreviation: Message {
        let template: StaticString =
            switch rawValue {
            case 0: "UC"
            case 1: "WC"
            case 4: "WT"
            case 5: "WP"
            case 6: "WB"
            default: "type {dec}"
            }
        return Message(template: template, UInt64(rawValue))
    }
}
