// Accessors for the BIOS guest's real-mode handler (bios_stub.S, X86BIOS.h).
#include "X86.h"

#if !__STDC_HOSTED__

extern char x86_bios_stub_begin[], x86_bios_stub_end[], x86_bios_stub_int15[], x86_bios_stub_hypercall[];

uint64_t x86_bios_stub_address(void) { return (uint64_t)x86_bios_stub_begin; }
uint64_t x86_bios_stub_size(void) { return (uint64_t)(x86_bios_stub_end - x86_bios_stub_begin); }
uint64_t x86_bios_stub_int15_offset(void) { return (uint64_t)(x86_bios_stub_int15 - x86_bios_stub_begin); }
uint64_t x86_bios_stub_hypercall_offset(void) { return (uint64_t)(x86_bios_stub_hypercall - x86_bios_stub_begin); }

#endif
