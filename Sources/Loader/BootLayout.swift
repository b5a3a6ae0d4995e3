/// The boot layout shared by the NASM stages (`Boot/layout.inc`), the image
/// builder and the hypervisor. `Tests/BootTests` parses layout.inc and checks
/// every constant here against it.
public enum BootLayout {
    /// Where stage 2 starts inside the image file (right after stage 1).
    public static let imageStage2Offset: UInt64 = 0x200
    /// Where the payload starts inside the image file; 2048-aligned so the
    /// same LBA arithmetic works for 512-byte disk and 2048-byte CD sectors.
    public static let imagePayloadOffset: UInt64 = 0x8000
    public static let stage2MaxSize: UInt64 = imagePayloadOffset - imageStage2Offset

    public static let bootInfoAddress: UInt64 = 0x1000
    public static let pageTablesAddress: UInt64 = 0x20000
    public static let pageTablesMaxSize: UInt64 = 0x40000
    /// Everything below this is the BIOS's or the boot stages'.
    public static let lowReservedEnd: UInt64 = 0x10_0000

    /// Stage 2 copies the payload here; the manifest sits at its start.
    public static let payloadBase: UInt64 = 0x20_0000
    /// The hypervisor image follows the manifest page; the linker script
    /// (`Boot/hypervisor.ld`) links it here.
    public static let hypervisorLoadAddress: UInt64 = payloadBase + 0x1000

    public static let e820MaxEntries = 128
    public static let e820EntrySize = 24
}
