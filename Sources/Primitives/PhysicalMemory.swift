/// Access to physical memory by address.
///
/// The bare-metal build conforms with identity-mapped pointers
/// (`Hypervisor/IdentityMemory.swift`); tests conform with a byte buffer.
/// Libraries are generic over it (Embedded Swift has no `any P` for
/// non-class protocols), so the real conformance costs a plain load/store.
public protocol PhysicalMemory {
    /// Reads a little-endian value of `T` at physical `address`.
    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T
    /// Writes a little-endian value of `T` at physical `address`.
    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64)
    /// Copies `bytes` to physical `address`. The default stores eight
    /// bytes at a time through `store`; a conformance that can address the
    /// memory directly copies in one go (a Linux payload is 10 MiB).
    mutating func storeBytes(_ bytes: UnsafeRawBufferPointer, at address: UInt64)
}
