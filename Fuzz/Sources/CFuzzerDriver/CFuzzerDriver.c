// The header declares libFuzzer's LLVMFuzzerRunDriver; its definition comes
// from the toolchain's libclang_rt.fuzzer (linked by -sanitize=fuzzer).
#include "CFuzzerDriver.h"
