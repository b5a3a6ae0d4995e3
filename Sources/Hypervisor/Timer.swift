import Primitives
import VMXCore
import X86

/// The hypervisor's guarantee of getting the CPU back: the VMX-preemption
/// timer, loaded with 10 ms worth of ticks on every VM entry, so a guest
/// that spins with interrupts off (or never exits) still returns control at
/// least every 10 ms of its time.
///
/// The timer counts down at the TSC rate divided by 2^IA32_VMX_MISC[4:0]
/// (Intel SDM Vol. 3C, "VMX-Preemption Timer"); the TSC rate is measured
/// once at boot against the PIT (1.193182 MHz), which is what the emulators
/// also tie their virtual time to (Bochs: its TSC counts instructions, and
/// its PIT follows `ips`).
enum LivenessTimer {
    /// The guest's time slice: at most this long without a VM exit.
    static let sliceMilliseconds: UInt64 = 10

    /// Timer ticks for one slice, or nil when the CPU has no preemption timer.
    static func ticksPerSlice(capabilities: VMXCapabilities) -> UInt32? {
        guard capabilities.supportsPreemptionTimer else { return nil }
        let tscPerSlice = tscTicks(overMilliseconds: sliceMilliseconds)
        let ticks = max(tscPerSlice >> UInt64(capabilities.miscellaneous.preemptionTimerRate), 1)
        console.line(
            "timer: TSC \(tscPerSlice * (1000 / sliceMilliseconds) / 1_000_000) MHz (PIT-calibrated); preemption timer \(ticks) ticks = \(sliceMilliseconds) ms (rate 2^\(capabilities.miscellaneous.preemptionTimerRate))"
        )
        return UInt32(truncatingIfNeeded: min(ticks, UInt64(UInt32.max)))
    }

    /// TSC ticks over `milliseconds` (<= 50) of PIT channel 2, counted in
    /// mode 0 with the speaker gate (port 0x61 bit 0) and its output on
    /// port 0x61 bit 5, the way firmware and kernels calibrate.
    static func tscTicks(overMilliseconds milliseconds: UInt64) -> UInt64 {
        let pitHz: UInt64 = 1_193_182
        let count = pitHz * milliseconds / 1000
        let gate = x86_inb(0x61)
        x86_outb(0x61, (gate & ~0x02) | 0x01)  // gate on, speaker off
        x86_outb(0x43, 0xB0)  // channel 2, lobyte/hibyte, mode 0, binary
        x86_outb(0x42, UInt8(truncatingIfNeeded: count))
        x86_outb(0x42, UInt8(truncatingIfNeeded: count >> 8))
        let start = x86_rdtsc()
        var spins: UInt64 = 0
        while x86_inb(0x61) & 0x20 == 0 && spins < 100_000_000 { spins += 1 }
        let elapsed = x86_rdtsc() &- start
        x86_outb(0x61, gate)
        return max(elapsed, 1)
    }
}
