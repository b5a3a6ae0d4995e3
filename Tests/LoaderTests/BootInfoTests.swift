import EPT
import Primitives
import Testing
@testable import Loader

/// BootInfo as stage 2 writes it (Boot/layout.inc `BI_*`; the offsets are
/// checked against layout.inc by BootTests), read back by the parser.
@Suite("BootInfo")
struct BootInfoTests {
    /// A version-2 BootInfo page at 0x1000 with two E820 entries and the
    /// boot stages' timeline, as a Bochs CD boot leaves it.
    static func page(version: UInt16 = BootInfo.currentVersion) -> PagedMemory {
        var memory = PagedMemory()
        let at: UInt64 = 0x1000
        memory.store(BootInfo.magic, at: at + BootInfo.Offset.magic)
        memory.store(version, at: at + BootInfo.Offset.version)
        memory.store(UInt8(0xE0), at: at + BootInfo.Offset.bootDrive)
        memory.store(UInt8(0x03), at: at + BootInfo.Offset.flags)
        memory.store(UInt64(0x20_0000), at: at + BootInfo.Offset.payloadBase)
        memory.store(UInt64(2_038_616), at: at + BootInfo.Offset.payloadSize)
        memory.store(UInt32(2048), at: at + BootInfo.Offset.bytesPerSector)
        memory.store(UInt32(2), at: at + BootInfo.Offset.e820Count)
        memory.store(UInt64(0x2_0000), at: at + BootInfo.Offset.pageTablesBase)
        memory.store(UInt64(0x2000), at: at + BootInfo.Offset.pageTablesSize)
        memory.store(UInt64(0x1_0000_0000), at: at + BootInfo.Offset.identityMappedTop)
        memory.store(UInt64(1_530_211), at: at + BootInfo.Offset.tscStage1)
        memory.store(UInt64(1_604_007), at: at + BootInfo.Offset.tscStage2)
        memory.store(UInt64(9_876_543), at: at + BootInfo.Offset.tscHandoff)
        memory.store(UInt64(3_456_789), at: at + BootInfo.Offset.tscDisk)
        memory.store(UInt64(2_345_678), at: at + BootInfo.Offset.tscSerial)
        return memory
    }

    @Test("every field, the timeline included")
    func parsesEveryField() throws {
        let info = try BootInfo(loadingFrom: Self.page(), at: 0x1000)
        #expect(info.bootDrive == 0xE0 && info.flags == 3 && info.isCDBoot)
        #expect(info.payloadBase == 0x20_0000 && info.payloadSize == 2_038_616)
        #expect(info.bytesPerSector == 2048 && info.e820Count == 2 && info.e820Address == 0x1040)
        #expect(info.pageTablesBase == 0x2_0000 && info.pageTablesSize == 0x2000)
        #expect(info.identityMappedTop == 0x1_0000_0000)
        #expect(info.stageTimes == BootStageTimes(stage1: 1_530_211, stage2: 1_604_007, handoff: 9_876_543, disk: 3_456_789, serial: 2_345_678))
    }

    @Test("a version-1 page (no timeline) is refused: stage 2 and hypervisor from different builds")
    func refusesVersion1() {
        #expect(throws: BootInfoError.unsupportedVersion(1)) {
            try BootInfo(loadingFrom: Self.page(version: 1), at: 0x1000)
        }
    }

    @Test("the timeline lays out the page so the E820 array keeps its 128 entries")
    func timelineFollowsTheE820Array() {
        let e820End = BootInfo.Offset.e820Entries + UInt64(BootLayout.e820MaxEntries * BootLayout.e820EntrySize)
        #expect(BootInfo.Offset.tscStage1 == e820End)
        #expect([BootInfo.Offset.tscStage2, BootInfo.Offset.tscHandoff, BootInfo.Offset.tscDisk, BootInfo.Offset.tscSerial]
                == [e820End + 8, e820End + 16, e820End + 24, e820End + 32])
    }
}

@Suite("Boot timeline")
struct BootTimelineTests {
    @Test("one line: every mark in boot order, disk and serial time, launch minus disk, launch minus BIOS, disk and serial")
    func line() {
        var timeline = BootTimeline(stages: BootStageTimes(stage1: 100, stage2: 200, handoff: 300, disk: 50, serial: 30))
        timeline.entry = 400
        timeline.vmxon = 500
        timeline.memory = 600
        timeline.launch = 700
        timeline.firstExit = 800
        timeline.guestStop = 900
        timeline.serialBeforeLaunch = 120
        #expect(timeline.line(powerOff: 1000)
                == "timeline (TSC ticks since reset) stage1=100 stage2=200 handoff=300 entry=400 vmxon=500 memory=600 launch=700 first-exit=800 guest-stop=900 power-off=1000 disk=50 serial=150 launch-excluding-disk=650 launch-work=400")
    }

    @Test("without a guest the guest marks read -, and so does launch minus disk")
    func noGuest() {
        var timeline = BootTimeline(stages: BootStageTimes(stage1: 100, stage2: 200, handoff: 300, disk: 50))
        timeline.entry = 400
        timeline.vmxon = 500
        #expect(timeline.line(powerOff: 600)
                == "timeline (TSC ticks since reset) stage1=100 stage2=200 handoff=300 entry=400 vmxon=500 memory=- launch=- first-exit=- guest-stop=- power-off=600 disk=50 serial=0 launch-excluding-disk=- launch-work=-")
    }
}
