import Primitives

/// Reads and writes a VMCB: plain memory, little-endian, by byte offset.
///
/// `VMCBPage` is the real thing (a raw pointer to the 4 KiB page VMRUN
/// takes in RAX); tests may use it over an allocated page too. Code that
/// needs it is generic (`func f<V: VMCBAccess>(_ vmcb: inout V)`):
/// Embedded Swift has no `any VMCBAccess`.
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42).
public protocol VMCBAccess {
    /// The `byteCount` (1, 2, 4 or 8) bytes at `offset`, zero-extended.
    func read(offset: Int, byteCount: Int) -> UInt64
    /// Writes the low `byteCount` (1, 2, 4 or 8) bytes of `value` at `offset`.
    mutating func write(offset: Int, byteCount: Int, _ value: UInt64)
}

extension VMCBAccess {
    /// Reads a typed field: `vmcb.read(VMCB.rip)`.
    @inline(__always)
    public func read<Value>(_ field: VMCBField<Value>) -> Value {
        Value(truncatingIfNeeded: read(offset: field.offset, byteCount: field.byteCount))
    }

    /// Writes a typed field: `vmcb.write(VMCB.rip, rip)`.
    @inline(__always)
    public mutating func write<Value>(_ field: VMCBField<Value>, _ value: Value) {
        write(offset: field.offset, byteCount: field.byteCount, UInt64(value))
    }

    /// Reads a whole segment register: `vmcb.read(VMCB.cs)`.
    public func read(_ segment: VMCBSegmentField) -> VMCBSegment {
        VMCBSegment(
            selector: read(segment.selector), attributes: SVMSegmentAttributes(rawValue: read(segment.attributes)),
            limit: read(segment.limit), base: read(segment.base))
    }

    /// Writes a whole segment register: `vmcb.write(VMCB.cs, segment)`.
    public mutating func write(_ segment: VMCBSegmentField, _ value: VMCBSegment) {
        write(segment.selector, value.selector)
        write(segment.attributes, value.attributes.rawValue)
        write(segment.limit, value.limit)
        write(segment.base, value.base)
    }
}

/// The VMCB as the processor sees it: a 4 KiB-aligned page of RAM, reached
/// through a raw pointer (the hypervisor's identity map, or an allocated
/// page in tests). A value type holding only the pointer: copies share the
/// page.
///
/// AMD APM Vol. 2, "VMRUN Instruction" (15.5 in rev. 3.42): the VMCB is one
/// 4 KiB-aligned page, its physical address in RAX.
public struct VMCBPage: VMCBAccess {
    /// The size of a VMCB (and of the host save area).
    public static let size = 4096

    /// The first byte of the page.
    public let base: UnsafeMutableRawPointer

    /// The page at `base`, as it is (call `zero()` for a fresh VMCB: every
    /// reserved field must be 0).
    public init(_ base: UnsafeMutableRawPointer) {
        self.base = base
    }

    /// Fills the page with zeros.
    public func zero() {
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
    }

    public func read(offset: Int, byteCount: Int) -> UInt64 {
        precondition(offset >= 0 && offset + byteCount <= Self.size, "VMCB offset outside the page")
        switch byteCount {
        case 1: return UInt64(base.load(fromByteOffset: offset, as: UInt8.self))
        case 2: return UInt64(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        case 4: return UInt64(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        default: return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
    }

    public func write(offset: Int, byteCount: Int, _ value: UInt64) {
        precondition(offset >= 0 && offset + byteCount <= Self.size, "VMCB offset outside the page")
        switch byteCount {
        case 1: base.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: offset, as: UInt8.self)
        case 2: base.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, toByteOffset: offset, as: UInt16.self)
        case 4: base.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, toByteOffset: offset, as: UInt32.self)
        default: base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
        }
    }
}
