#include "X86.h"
