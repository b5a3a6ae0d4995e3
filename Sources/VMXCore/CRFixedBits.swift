/// The bits of CR0 or CR4 that VMX operation fixes, from the
/// IA32_VMX_CRn_FIXED0/FIXED1 MSR pair.
///
/// A bit set in `fixed0` must be 1; a bit clear in `fixed1` must be 0; the
/// others are free. The same rules hold for VMXON (host) and, with the
/// unrestricted-guest exception, for the guest on VM entry.
///
/// Intel SDM Vol. 3C, "Restrictions on VMX Operation" (24.8 in rev. 84);
/// Intel SDM Vol. 3D, "VMX-Fixed Bits in CR0" (A.7 in rev. 84) and
/// "VMX-Fixed Bits in CR4" (A.8 in rev. 84).
public struct CRFixedBits: Hashable, Sendable {
    /// IA32_VMX_CRn_FIXED0: the bits that must be 1.
    public var fixed0: UInt64
    /// IA32_VMX_CRn_FIXED1: the bits that may be 1.
    public var fixed1: UInt64

    public init(fixed0: UInt64, fixed1: UInt64) {
        self.fixed0 = fixed0
        self.fixed1 = fixed1
    }

    /// `value` with the must-be-1 bits set and the must-be-0 bits cleared.
    public func apply(_ value: UInt64) -> UInt64 { (value | fixed0) & fixed1 }

    /// The bits of `value` that break the rules.
    public func violations(_ value: UInt64) -> FixedBitsViolations {
        FixedBitsViolations(mustBeOne: fixed0 & ~value, mustBeZero: value & ~fixed1)
    }

    /// Throws `VMXError.fixedBitsViolation` unless `value` satisfies the rules.
    public func check(_ value: UInt64, register: ControlRegister) throws(VMXError) {
        let found = violations(value)
        guard found.isEmpty else { throw .fixedBitsViolation(register, value: value, found) }
    }

    /// The CR0 rules for a guest run with "unrestricted guest": PE and PG
    /// may be 0 (so fixed0 loses them). Apply only to CR0.
    ///
    /// Intel SDM Vol. 3C, "Checks on Guest Control Registers, Debug
    /// Registers, and MSRs" (27.3.1.1 in rev. 84).
    public func allowingUnrestrictedGuest() -> CRFixedBits {
        CRFixedBits(fixed0: fixed0 & ~(CR0.pe.rawValue | CR0.pg.rawValue), fixed1: fixed1)
    }
}

/// Bits of a control register that break its VMX-fixed bits.
public struct FixedBitsViolations: Hashable, Sendable {
    /// Bits that are 0 but must be 1.
    public var mustBeOne: UInt64
    /// Bits that are 1 but must be 0.
    public var mustBeZero: UInt64

    public init(mustBeOne: UInt64, mustBeZero: UInt64) {
        self.mustBeOne = mustBeOne
        self.mustBeZero = mustBeZero
    }

    public var isEmpty: Bool { mustBeOne == 0 && mustBeZero == 0 }
}
