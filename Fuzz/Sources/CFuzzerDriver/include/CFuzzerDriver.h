#ifndef PXHV_FUZZER_DRIVER_H
#define PXHV_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry for programs that have their own main
/// (https://llvm.org/docs/LibFuzzer.html, "Using libFuzzer as a library"):
/// parses the libFuzzer flags in argv and runs `callback` on each input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
