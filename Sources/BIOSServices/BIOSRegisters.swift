/// The registers a real-mode BIOS service reads and writes: the general
/// registers, the two data segments the disk services address buffers
/// through, and the carry flag every INT 13h function reports errors in.
/// The caller copies them from the guest's state before the call and back
/// after it (the service touches nothing else).
public struct BIOSRegisters: Equatable, Sendable {
    public var eax: UInt32 = 0
    public var ebx: UInt32 = 0
    public var ecx: UInt32 = 0
    public var edx: UInt32 = 0
    public var esi: UInt32 = 0
    public var edi: UInt32 = 0
    public var ds: UInt16 = 0
    public var es: UInt16 = 0
    /// CF on return from the interrupt: set on error.
    public var carry = false

    public init() {}

    public var ax: UInt16 { get { UInt16(truncatingIfNeeded: eax) } set { eax = eax & 0xFFFF_0000 | UInt32(newValue) } }
    public var bx: UInt16 { get { UInt16(truncatingIfNeeded: ebx) } set { ebx = ebx & 0xFFFF_0000 | UInt32(newValue) } }
    public var cx: UInt16 { get { UInt16(truncatingIfNeeded: ecx) } set { ecx = ecx & 0xFFFF_0000 | UInt32(newValue) } }
    public var dx: UInt16 { get { UInt16(truncatingIfNeeded: edx) } set { edx = edx & 0xFFFF_0000 | UInt32(newValue) } }
    public var si: UInt16 { get { UInt16(truncatingIfNeeded: esi) } set { esi = esi & 0xFFFF_0000 | UInt32(newValue) } }
    public var di: UInt16 { get { UInt16(truncatingIfNeeded: edi) } set { edi = edi & 0xFFFF_0000 | UInt32(newValue) } }

    public var al: UInt8 { get { UInt8(truncatingIfNeeded: eax) } set { eax = eax & 0xFFFF_FF00 | UInt32(newValue) } }
    public var ah: UInt8 { get { UInt8(truncatingIfNeeded: eax >> 8) } set { eax = eax & 0xFFFF_00FF | UInt32(newValue) << 8 } }
    public var bl: UInt8 { get { UInt8(truncatingIfNeeded: ebx) } set { ebx = ebx & 0xFFFF_FF00 | UInt32(newValue) } }
    public var bh: UInt8 { get { UInt8(truncatingIfNeeded: ebx >> 8) } set { ebx = ebx & 0xFFFF_00FF | UInt32(newValue) << 8 } }
    public var cl: UInt8 { get { UInt8(truncatingIfNeeded: ecx) } set { ecx = ecx & 0xFFFF_FF00 | UInt32(newValue) } }
    public var ch: UInt8 { get { UInt8(truncatingIfNeeded: ecx >> 8) } set { ecx = ecx & 0xFFFF_00FF | UInt32(newValue) << 8 } }
    public var dl: UInt8 { get { UInt8(truncatingIfNeeded: edx) } set { edx = edx & 0xFFFF_FF00 | UInt32(newValue) } }
    public var dh: UInt8 { get { UInt8(truncatingIfNeeded: edx >> 8) } set { edx = edx & 0xFFFF_00FF | UInt32(newValue) << 8 } }
}

/// A real-mode segment:offset address (the diskette parameter table,
/// buffers at ES:BX).
public struct FarPointer: Equatable, Sendable {
    public var segment: UInt16
    public var offset: UInt16

    public init(segment: UInt16, offset: UInt16) {
        self.segment = segment
        self.offset = offset
    }

    /// The linear address, with A20 enabled (no wrap at 1 MiB): the
    /// guest's memory is flat guest-physical memory.
    public var linear: UInt64 { UInt64(segment) << 4 + UInt64(offset) }
}
