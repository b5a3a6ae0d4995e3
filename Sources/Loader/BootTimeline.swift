import Primitives

/// What the boot stages measured (BootInfo `BI_TSC_*`, Boot/layout.inc):
/// TSC values, and the TSC ticks the BIOS spent reading the disk.
public struct BootStageTimes: Equatable, Sendable {
    /// Stage 1's first instructions: about where the BIOS hands over.
    public var stage1: UInt64
    /// Stage 2's first instruction.
    public var stage2: UInt64
    /// Stage 2's jump to the hypervisor's entry, after its checksum.
    public var handoff: UInt64
    /// Ticks inside INT 13h reads, stage 1's and stage 2's together.
    public var disk: UInt64
    /// Ticks stage 2 spent sending its console lines to COM1.
    public var serial: UInt64

    public init(stage1: UInt64, stage2: UInt64, handoff: UInt64, disk: UInt64, serial: UInt64 = 0) {
        self.stage1 = stage1
        self.stage2 = stage2
        self.handoff = handoff
        self.disk = disk
        self.serial = serial
    }
}

/// The boot timeline: the TSC at each step from reset to the guest's stop,
/// printed as one line at power-off (`pxhv: timeline ...`).
///
/// The values are TSC readings, not differences: the TSC counts from 0 at
/// reset in Bochs and QEMU (Bochs: one tick per retired instruction and one
/// per byte of `rep movsb`, so under Bochs these are instruction counts), so
/// each value is the time since reset. On real hardware the TSC may not
/// start at reset (firmware can write it, a warm reset keeps it): there only
/// the differences mean something.
///
/// `disk` is the time the BIOS spent in INT 13h reads during the boot
/// stages, so `launch - disk` is the boot's own cost up to the first
/// VMLAUNCH, independent of the medium's speed.
public struct BootTimeline: Equatable, Sendable {
    public var stages: BootStageTimes
    /// `hv_main`'s first instruction (after `_start` cleared .bss).
    public var entry: UInt64 = 0
    /// VMXON succeeded.
    public var vmxon: UInt64 = 0
    /// The guests' memory is ready: EPT built and checked.
    public var memory: UInt64 = 0
    /// Just before the first VMLAUNCH.
    public var launch: UInt64 = 0
    /// The first guest's first VM exit, back in the hypervisor.
    public var firstExit: UInt64 = 0
    /// The last guest stopped (for Linux: its power-off request).
    public var guestStop: UInt64 = 0

    public init(stages: BootStageTimes = BootStageTimes(stage1: 0, stage2: 0, handoff: 0, disk: 0)) {
        self.stages = stages
    }

    /// Ticks the hypervisor spent writing its console lines before the
    /// first VMLAUNCH (mostly waiting for the UARTs: at 115200 baud one
    /// character takes ~87 us). `serial=` adds stage 2's.
    public var serialBeforeLaunch: UInt64 = 0

    /// `timeline (TSC ticks since reset) stage1=... power-off=... disk=...
    /// serial=... launch-excluding-disk=... launch-work=...`, with `powerOff`
    /// the TSC now. `launch-work` is the first VMLAUNCH minus the BIOS (up to
    /// stage 1), the disk reads and the hypervisor's serial output: the
    /// instructions the boot itself executes. A step the boot never reached
    /// (no guest: no launch) reads `-`.
    public func line(powerOff: UInt64) -> Message {
        var text: Message = "timeline (TSC ticks since reset)"
        // (Never inlined: twelve copies of it cost 2 KB.)
        @inline(never) func mark(_ name: StaticString, _ tsc: UInt64) {
            text.append(" ")
            text.append(name)
            if tsc == 0 {
                text.append("=-")
            } else {
                text.append("=")
                text.append(decimal: tsc)
            }
        }
        mark("stage1", stages.stage1)
        mark("stage2", stages.stage2)
        mark("handoff", stages.handoff)
        mark("entry", entry)
        mark("vmxon", vmxon)
        mark("memory", memory)
        mark("launch", launch)
        mark("first-exit", firstExit)
        mark("guest-stop", guestStop)
        mark("power-off", powerOff)
        let serial = stages.serial &+ serialBeforeLaunch
        text.append(" disk=\(stages.disk) serial=\(serial)")
        let reached = launch != 0 && launch >= stages.disk
        mark("launch-excluding-disk", reached ? launch - stages.disk : 0)
        let overhead = stages.stage1 &+ stages.disk &+ serial
        mark("launch-work", reached && launch >= overhead ? launch - overhead : 0)
        return text
    }
}
