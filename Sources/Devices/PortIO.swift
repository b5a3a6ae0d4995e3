/// The x86 I/O port space: `in` and `out` of 8, 16 and 32 bits.
///
/// The bare-metal program conforms over the X86 shim (one `in`/`out`
/// instruction per call); tests conform with a fake that records the
/// ordered trace of accesses. Drivers are generic over it.
///
/// Reads are not `mutating` although a port read may have side effects in the
/// device (reading RBR pops the receive FIFO): the conformer holds no state
/// of its own on hardware; a recording fake is a class.
public protocol PortIO {
    /// `in al, dx`
    func inb(_ port: UInt16) -> UInt8
    /// `in ax, dx`
    func inw(_ port: UInt16) -> UInt16
    /// `in eax, dx`
    func inl(_ port: UInt16) -> UInt32
    /// `out dx, al`
    mutating func outb(_ port: UInt16, _ value: UInt8)
    /// `out dx, ax`
    mutating func outw(_ port: UInt16, _ value: UInt16)
    /// `out dx, eax`
    mutating func outl(_ port: UInt16, _ value: UInt32)
}
