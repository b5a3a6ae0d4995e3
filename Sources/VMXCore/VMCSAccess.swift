import Primitives

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

/// A field and the value to write to it, typed together: a row of the
/// tables the state writers (`VMCSGuestState.write(to:)`, ...) hand to
/// `VMCSAccess.write(_:)`, so that a whole area is one loop of VMWRITEs
/// rather than one inlined VMWRITE and error path per field. A row whose
/// condition is false is skipped (a field the processor may lack).
struct VMCSWrite {
    /// The encoding, with bit 31 set when the row is skipped (bits 31:15
    /// of every encoding are 0).
    let encoding: UInt32
    let value: UInt64

    @inline(__always)
    init<Value>(_ field: VMCSField<Value>, _ value: Value, if condition: Bool = true) {
        encoding = condition ? field.encoding : field.encoding | 1 << 31
        self.value = UInt64(value)
    }
}

extension VMCSAccess {
    /// Writes each row whose condition holds, in order; stops at the first failure.
    mutating func write<let count: Int>(_ rows: InlineArray<count, VMCSWrite>) throws(VMXError) {
        let rows = rows.span
        for index in rows.indices where !rows[index].encoding[bit: 31] {
            try write(rows[index].encoding, rows[index].value)
        }
    }
}
