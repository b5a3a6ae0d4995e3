/// Reads and writes the current VMCS.
///
/// `Hypervisor/` conforms over VMREAD/VMWRITE (which need a current VMCS,
/// made so by VMPTRLD); tests conform with an in-memory table. Code that
/// needs it is generic (`func f<V: VMCSAccess>(_ vmcs: inout V)`):
/// Embedded Swift has no `any VMCSAccess`.
///
/// Intel SDM Vol. 3C, "VMREAD, VMWRITE, and Encodings of VMCS Fields" (25.11.2 in rev. 84).
public protocol VMCSAccess {
    /// VMREAD: the field's value, zero-extended to 64 bits.
    func read(_ encoding: UInt32) -> UInt64
    /// VMWRITE: writes the low bits of `value` that fit the field. Throws
    /// `VMXError.failValid` (e.g. error 12, unsupported component; 13,
    /// read-only component) or `.failInvalid` (no current VMCS).
    mutating func write(_ encoding: UInt32, _ value: UInt64) throws(VMXError)
}

extension VMCSAccess {
    /// Reads a typed field: `vmcs.read(VMCS.guestRIP)`.
    public func read<Value>(_ field: VMCSField<Value>) -> Value {
        Value(truncatingIfNeeded: read(field.encoding))
    }

    /// Writes a typed field: `try vmcs.write(VMCS.guestRIP, rip)`.
    public mutating func write<Value>(_ field: VMCSField<Value>, _ value: Value) throws(VMXError) {
        try write(field.encoding, UInt64(value))
    }
}
