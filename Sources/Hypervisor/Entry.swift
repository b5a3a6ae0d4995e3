import Loader
import X86

/// pxHV's version, printed in the first line.
let pxhvVersion = "0.1.0"

/// Stage 2 jumps to `_start` (Sources/X86/entry.S), which calls this with
/// the BootInfo address stage 2 filled in (Boot/layout.inc).
@_cdecl("hv_main")
func hvMain(_ bootInfoAddress: UInt64) {
    console.line("pxHV \(pxhvVersion) booting")
    x86_install_descriptor_tables()
    console.line("image \(hex(x86_image_start()))-\(hex(x86_image_end())) stack top \(hex(x86_stack_top()))")
    fatal("not yet implemented beyond this point")
}
