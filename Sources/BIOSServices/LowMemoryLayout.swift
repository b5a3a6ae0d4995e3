import EPT
import Primitives

/// What pxHV takes from the top of base memory (below the EBDA), as the
/// BIOS reported it in the BDA word at 40:13h (KiB):
///
///     trampolinePage   the APs' real-mode start page (hidden from every guest)
///     handlerPage      the BIOS guest's INT 13h/15h handler (the guest runs it)
///     biosTop          top of base memory by the BIOS; the EBDA follows
///
/// A BIOS guest is told base memory ends at the trampoline (its INT 12h and
/// BDA word), and its E820 reserves `[trampolinePage.start, biosTop)`: both
/// pages are taken the way option ROMs and boot loaders take memory from
/// DOS, from the top. Other guests reserve the trampoline page only.
public struct LowMemoryLayout: Equatable, Sendable {
    /// The BDA's base-memory word (KiB), segment 40h offset 13h.
    public static let baseMemoryWordAddress: UInt64 = 0x413
    /// Room for the handler (Sources/X86/bios_stub.S is about 100 bytes).
    public static let handlerCapacity: UInt64 = 512
    /// A top outside [512 KiB, 640 KiB] is not a PC's; it is clamped.
    public static let lowestTop: UInt64 = 0x8_0000
    public static let highestTop: UInt64 = 0xA_0000

    public let biosTop: UInt64
    public let handlerPage: UInt64
    public let trampolinePage: PhysicalRange

    public init(baseMemoryKiB: UInt16) {
        biosTop = min(max(UInt64(baseMemoryKiB) << 10, Self.lowestTop), Self.highestTop)
        handlerPage = (biosTop - Self.handlerCapacity) & ~0xFFF
        trampolinePage = PhysicalRange(start: handlerPage - 0x1000, length: 0x1000)
    }

    /// Base memory as a BIOS guest is told it (KiB): up to the trampoline.
    public var guestBaseMemoryKiB: UInt16 { UInt16(trampolinePage.start >> 10) }
    /// What a BIOS guest's memory map reserves.
    public var reservedForBIOSGuest: PhysicalRange { PhysicalRange(start: trampolinePage.start, end: biosTop) }
}
