import Loader
import X86

/// The hypervisor's marks on the boot timeline (`BootTimeline`, Loader):
/// each `note...` reads the TSC; `printLine` prints the whole timeline, the
/// boot stages' marks from BootInfo included, at power-off.
///
/// The marks sit where the steps end (hv_main's entry, VMXON, EPT ready,
/// first VMLAUNCH, first exit, guest stop); `VCPU.run` calls the two in its
/// loop only while `launched` is false, so the exit path pays one test of a
/// local per exit.
enum Timeline {
    nonisolated(unsafe) static var marks = BootTimeline()

    /// hv_main's first statement: before the console, before BootInfo is read.
    static func noteEntry() { marks.entry = x86_rdtsc() }

    /// BootInfo is read: the boot stages' marks join the timeline.
    static func noteStages(_ stages: BootStageTimes) { marks.stages = stages }

    static func noteVMXON() { marks.vmxon = x86_rdtsc() }
    static func noteGuestMemory() { marks.memory = x86_rdtsc() }

    /// Just before a VMLAUNCH; only the first one counts.
    static func noteLaunch() {
        if marks.launch == 0 {
            marks.launch = x86_rdtsc()
            marks.serialBeforeLaunch = console.writeTicks
        }
    }

    /// Back from a guest's first VM exit; only the first guest's counts.
    static func noteFirstExit() {
        if marks.firstExit == 0 { marks.firstExit = x86_rdtsc() }
    }

    /// A guest stopped; the last one counts (the Linux guest's power-off).
    static func noteGuestStop() { marks.guestStop = x86_rdtsc() }

    /// `pxhv: timeline ...`, with the TSC now as the power-off mark.
    static func printLine() {
        console.line(marks.line(powerOff: x86_rdtsc()))
    }
}
