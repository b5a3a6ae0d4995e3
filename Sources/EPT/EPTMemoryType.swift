/// The memory type of an EPT leaf (bits 5:3) or of the EPT paging
/// structures themselves (EPTP bits 2:0).
///
/// Open: the encodings 2, 3 and 7 are reserved, and a leaf holding one is an
/// EPT misconfiguration, which `isValid` lets the walker report.
///
/// Intel SDM Vol. 3C, "EPT and Memory Typing" (29.3.7 in rev. 84).
public struct EPTMemoryType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// UC: for MMIO, where every access must reach the device.
    public static let uncacheable = EPTMemoryType(rawValue: 0)
    /// WC
    public static let writeCombining = EPTMemoryType(rawValue: 1)
    /// WT
    public static let writeThrough = EPTMemoryType(rawValue: 4)
    /// WP
    public static let writeProtected = EPTMemoryType(rawValue: 5)
    /// WB: for RAM.
    public static let writeBack = EPTMemoryType(rawValue: 6)

    /// False for the reserved encodings (2, 3, 7 and anything above 7).
    public var isValid: Bool {
        self == .uncacheable || self == .writeCombining || self == .writeThrough
            || self == .writeProtected || self == .writeBack
    }
}

/// Read, write and execute permissions of an EPT entry (bits 2:0), also the
/// shape of the access and permission bits of an EPT-violation
/// qualification.
///
/// Intel SDM Vol. 3C, "EPT Translation Mechanism" (29.3.2 in rev. 84).
public struct EPTPermissions: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = EPTPermissions(rawValue: 1 << 0)
    public static let write = EPTPermissions(rawValue: 1 << 1)
    /// Execute (supervisor-mode execute when "mode-based execute control"
    /// is on; this module does not turn it on).
    public static let execute = EPTPermissions(rawValue: 1 << 2)

    public static let readWrite: EPTPermissions = [.read, .write]
    public static let all: EPTPermissions = [.read, .write, .execute]

    /// Write without read is an EPT misconfiguration.
    ///
    /// Intel SDM Vol. 3C, "EPT Misconfigurations" (29.3.3.1 in rev. 84).
    public var isValid: Bool { !contains(.write) || contains(.read) }
}
