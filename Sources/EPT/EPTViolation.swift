import Primitives

/// The exit qualification of an EPT violation (exit reason 48), decoded.
///
/// The faulting guest-physical address is not in here: it is the VMCS field
/// "guest-physical address" (0x2400); the guest-linear address (0x640A) is
/// meaningful only when `isGuestLinearAddressValid`.
///
/// Intel SDM Vol. 3C, "Basic VM-Exit Information" (28.2.1 in rev. 84),
/// table "Exit Qualification for EPT Violations"; and "EPT Violations"
/// (29.3.3.2 in rev. 84).
public struct EPTViolation: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public enum Field {
        /// The access that faulted: data read, data write, instruction fetch.
        public static let access = 0...2
        /// The R/W/X bits the translation allowed: the AND of those bits
        /// over all EPT entries walked (all zero when one was not present).
        public static let entryPermissions = 3...5
        /// The AND of the user-mode execute bits, with mode-based execute
        /// control (undefined without it).
        public static let userModeExecutable = 6
        /// The guest-linear-address field is valid.
        public static let guestLinearAddressValid = 7
        /// With bit 7 set: 1 = the access was to the translated
        /// guest-physical address, 0 = to a guest paging-structure entry.
        public static let translatedAccess = 8
        /// The violation happened while IRET unblocked NMIs: the handler
        /// must re-block NMIs before resuming the guest.
        public static let nmiUnblockingDueToIRET = 12
    }

    /// What the guest access was doing, as an EPT access of that kind:
    /// `.read` (data read), `.write` (data write), `.execute` (fetch).
    public var access: EPTPermissions { EPTPermissions(rawValue: UInt8(self[bits: Field.access])) }

    public var isRead: Bool { access.contains(.read) }
    public var isWrite: Bool { access.contains(.write) }
    public var isInstructionFetch: Bool { access.contains(.execute) }

    /// What the EPT entries allowed. Empty means the address is not mapped
    /// at all (as for the hypervisor's hidden region); non-empty means a
    /// permission violation.
    public var entryPermissions: EPTPermissions { EPTPermissions(rawValue: UInt8(self[bits: Field.entryPermissions])) }

    /// True when no EPT entry mapped the address.
    public var isNotPresent: Bool { entryPermissions.isEmpty }

    public var isUserModeExecutable: Bool { self[bit: Field.userModeExecutable] }
    public var isGuestLinearAddressValid: Bool { self[bit: Field.guestLinearAddressValid] }

    /// What the guest-linear access touched, when the linear address is valid.
    public enum LinearAccess: Hashable, Sendable {
        /// The access was to the guest-physical translation of the linear
        /// address (the data or instruction itself).
        case translatedAddress
        /// The access was to a guest paging-structure entry during the
        /// guest's own page walk.
        case pagingStructureEntry
    }

    /// Nil when the guest-linear address is not valid (for instance when the
    /// guest runs with paging off, or the access was to a guest paging
    /// structure loaded by MOV to CR3).
    public var linearAccess: LinearAccess? {
        guard isGuestLinearAddressValid else { return nil }
        return self[bit: Field.translatedAccess] ? .translatedAddress : .pagingStructureEntry
    }

    public var isNMIUnblockingDueToIRET: Bool { self[bit: Field.nmiUnblockingDueToIRET] }
}
