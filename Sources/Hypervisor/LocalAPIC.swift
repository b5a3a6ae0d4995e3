import Devices
import Primitives
import X86

/// This CPU's local APIC, as far as starting and poking other CPUs needs:
/// its ID and the Interrupt Command Register, in xAPIC (MMIO) or x2APIC
/// (MSR) mode, whichever the firmware left it in.
///
/// Intel SDM Vol. 3A, "Local APIC Status and Location" (11.4.4 in rev. 84):
/// IA32_APIC_BASE (MSR 0x1B) holds the base address (bits 12 and up) and
/// the x2APIC enable bit EXTD (bit 10); "Interrupt Command Register (ICR)"
/// (11.6.1 in rev. 84); "x2APIC Register Address Space" (11.12.1.2 in
/// rev. 84): the ICR is the single 64-bit MSR 0x830 there.
struct LocalAPIC {
    static let baseMSR: UInt32 = 0x1B
    static let x2APICEnable: UInt64 = 1 << 10
    static let baseMask: UInt64 = 0x000F_FFFF_FFFF_F000

    /// x2APIC MSRs (the xAPIC offsets: `XAPICRegister`).
    static let x2APICIDMSR: UInt32 = 0x802
    static let x2APICICRMSR: UInt32 = 0x830

    let base: UInt64
    let isX2APIC: Bool

    static func current() -> LocalAPIC {
        let value = x86_rdmsr(baseMSR)
        return LocalAPIC(base: value & baseMask, isX2APIC: value & x2APICEnable != 0)
    }

    /// This CPU's APIC ID: bits 31:24 of the ID register in xAPIC mode, the
    /// whole 32-bit x2APIC ID otherwise.
    var id: UInt32 {
        isX2APIC ? UInt32(truncatingIfNeeded: x86_rdmsr(Self.x2APICIDMSR)) : x86_mmio_read32(base + XAPICRegister.id) >> 24
    }

    /// Whether this mode can address `apicID` (xAPIC destinations are 8 bits).
    func canAddress(_ apicID: UInt32) -> Bool { isX2APIC || apicID <= 0xFF }

    /// Sends `command` (the ICR's low 32 bits) to `apicID` and, in xAPIC
    /// mode, waits for Delivery Status (bit 12) to clear. False if it never
    /// clears (the IPI may not have been sent).
    @discardableResult
    func send(_ command: ICRCommand, to apicID: UInt32) -> Bool {
        if isX2APIC {
            // Intel SDM Vol. 3A, "x2APIC Register Address Space": a WRMSR
            // to the ICR sends; there is no Delivery Status bit to poll.
            x86_wrmsr(Self.x2APICICRMSR, UInt64(apicID) << 32 | UInt64(command.rawValue))
            return true
        }
        x86_mmio_write32(base + XAPICRegister.interruptCommandHigh, apicID << 24)
        x86_mmio_write32(base + XAPICRegister.interruptCommandLow, command.rawValue)
        for _ in 0..<100_000 {
            if x86_mmio_read32(base + XAPICRegister.interruptCommandLow) & ICRCommand.deliveryStatusPending == 0 { return true }
            x86_pause()
        }
        return false
    }

    /// `send`, leaving the ICR's destination (its high dword, xAPIC mode)
    /// as it was: on a CPU whose guest writes the ICR itself, between the
    /// guest's write of the destination and its write of the command.
    @discardableResult
    func sendKeepingDestination(_ command: ICRCommand, to apicID: UInt32) -> Bool {
        guard !isX2APIC else { return send(command, to: apicID) }
        let destination = x86_mmio_read32(base + XAPICRegister.interruptCommandHigh)
        let sent = send(command, to: apicID)
        x86_mmio_write32(base + XAPICRegister.interruptCommandHigh, destination)
        return sent
    }

    /// Kicks the CPU whose per-CPU block is `target` (APIC ID `apicID`):
    /// counts the kick there, then sends the NMI, so that the target knows
    /// this NMI for a request of the hypervisor's and not one its guest is
    /// owed (`x86_consume_kicks`). NMIs carry no sender: the target takes
    /// as many of the NMIs it sees for kicks as were counted. Two NMIs that
    /// the processor merges into one (a second sent while the first is
    /// still pending) leave one kick counted with no NMI, which then takes
    /// a later guest NMI of that vCPU for itself: only a guest that INITs
    /// and starts one CPU in quick succession from several CPUs can cause
    /// it, and only to its own NMIs.
    func kick(_ target: UnsafeMutablePointer<x86_ap_state>, apicID: UInt32) {
        _ = x86_fetch_add64(&target.pointee.kicks, 1)
        sendKeepingDestination(.nmi, to: apicID)
    }
}

/// Busy-wait delays from the 8254 PIT's channel 2 (the speaker channel,
/// gated through port 0x61), which needs no calibration and which Bochs
/// ticks in emulated time. Used only at boot, before any guest owns the PIT.
///
/// Intel 8254 datasheet, mode 0 ("interrupt on terminal count"): OUT goes
/// high when the count reaches 0; port 0x61 bit 0 gates channel 2, bit 1
/// enables the speaker, bit 5 reads OUT2.
enum PITDelay {
    static let frequency: UInt64 = 1_193_182

    static func wait(microseconds: UInt64) {
        var remaining = microseconds * frequency / 1_000_000
        while remaining > 0 {
            let count = min(remaining, 0xFFFF)
            oneShot(UInt16(count))
            remaining -= count
        }
    }

    private static func oneShot(_ count: UInt16) {
        x86_outb(0x61, (x86_inb(0x61) & ~0x02) | 0x01)  // gate on, speaker off
        x86_outb(0x43, 0b10_11_000_0)  // channel 2, lobyte/hibyte, mode 0, binary
        x86_outb(0x42, UInt8(truncatingIfNeeded: count))
        x86_outb(0x42, UInt8(truncatingIfNeeded: count >> 8))
        for _ in 0..<10_000_000 where x86_inb(0x61) & 0x20 == 0 {}
    }
}
