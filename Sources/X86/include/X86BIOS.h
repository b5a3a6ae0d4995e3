// The BIOS guest's real-mode handler (bios_stub.S): the layout the
// hypervisor patches before it installs the handler in the guest's IVT.
// Included by X86.h; the offsets are shared with bios_stub.S.
#pragma once

#define BIOS_STUB_CHAIN13        0   // m16:16 the BIOS's own INT 13h (offset, segment)
#define BIOS_STUB_CHAIN15        4   // m16:16 the BIOS's own INT 15h
#define BIOS_STUB_DRIVE          8   // u8: the drive number pxHV serves
#define BIOS_STUB_SIGNATURE      10  // "pxHV": who hooked these vectors, for a person reading memory
#define BIOS_STUB_INT13          16  // INT 13h entry
#define BIOS_STUB_HYPERCALL_FUNCTION 10  // RAX of the handler's hypercall (Guest/README.md)

#ifndef __ASSEMBLER__
#include <stdint.h>

/// The handler's bytes in the image (copied into the guest's low memory).
uint64_t x86_bios_stub_address(void);
uint64_t x86_bios_stub_size(void);
/// Offsets in the handler of its INT 15h entry and of its VMCALL (0F 01 C1;
/// under AMD-V the hypervisor makes the third byte D9: VMMCALL).
uint64_t x86_bios_stub_int15_offset(void);
uint64_t x86_bios_stub_hypercall_offset(void);
#endif
