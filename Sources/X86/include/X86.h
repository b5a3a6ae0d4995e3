#pragma once
#include <stdint.h>
static inline __attribute__((always_inline)) void x86_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
