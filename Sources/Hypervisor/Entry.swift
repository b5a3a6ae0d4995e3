import X86
@_cdecl("hv_main")
public func hvMain(_ bootInfo: UInt) {
    x86_outb(0x3F8, 0x41)
}
