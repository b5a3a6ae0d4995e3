import Primitives

/// IA32_VMX_VMCS_ENUM (MSR 0x48A), decoded.
///
/// Intel SDM Vol. 3D, "VMCS Enumeration" (A.9 in rev. 84).
public struct VMCSEnumeration: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits 9:1: the highest index value used in any VMCS field encoding
    /// (bits 9:1 of the encoding).
    public var highestIndex: Int { Int(rawValue[bits: 1...9]) }
}
