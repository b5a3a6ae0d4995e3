import Testing
@testable import Devices

/// A guest's ICR writes, decoded as the SDM lays the register out, and
/// routed: INIT and STARTUP to the hypervisor, everything else to the real
/// local APIC.
@Suite struct InterruptCommandTests {
    @Test("fields: vector, delivery mode, destination mode, level, trigger, shorthand, destination")
    func fields() {
        // Linux's INIT assert to APIC ID 3: level-triggered, assert, INIT, physical.
        let initAssert = InterruptCommand(low: 0xC500, high: 3 << 24)
        #expect(initAssert.deliveryMode == .initialize && initAssert.isAssert && initAssert.isLevelTriggered)
        #expect(!initAssert.isLogicalDestination && initAssert.shorthand == .none && initAssert.destination == 3)
        #expect(!initAssert.isINITLevelDeassert)
        // STARTUP 0x9A to APIC ID 0x21.
        let startup = InterruptCommand(low: 0x0000_069A, high: 0x2100_0000)
        #expect(startup.deliveryMode == .startup && startup.vector == 0x9A && startup.destination == 0x21)
        // The SDM's example words: INIT 0x000C4500 and STARTUP 0x000C46XX to all excluding self.
        #expect(InterruptCommand(low: 0x000C_4500, high: 0).shorthand == .allExcludingSelf)
        #expect(InterruptCommand(low: 0x000C_4608, high: 0).vector == 0x08)
        #expect(InterruptCommand(low: 0x0004_0000, high: 0).shorthand == .onlySelf)
        #expect(InterruptCommand(low: 0x0008_0000, high: 0).shorthand == .allIncludingSelf)
        // Bits 55:32 of the ICR are reserved: only 63:56 are the destination.
        #expect(InterruptCommand(low: 0x4500, high: 0x00FF_FFFF).destination == 0)
        #expect(InterruptCommand(low: 0x800, high: 0).isLogicalDestination)
        let modes: [(UInt32, InterruptCommand.DeliveryMode)] = [
            (0, .fixed), (1, .lowestPriority), (2, .smi), (3, .reserved3), (4, .nmi), (5, .initialize), (6, .startup), (7, .reserved7),
        ]
        for (bits, mode) in modes { #expect(InterruptCommand(low: bits << 8 | 0x31, high: 0).deliveryMode == mode) }
        // The words pxHV itself sends decode to what they are.
        #expect(InterruptCommand(low: ICRCommand.initAssert.rawValue, high: 0).deliveryMode == .initialize)
        #expect(InterruptCommand(low: ICRCommand.nmi.rawValue, high: 0).deliveryMode == .nmi)
    }

    @Test("INIT and STARTUP go to the hypervisor, by destination or shorthand")
    func signals() {
        #expect(InterruptCommand(low: 0xC500, high: 2 << 24).route == .signal(.initialize, to: .processor(apicID: 2)))
        #expect(InterruptCommand(low: 0x4500, high: 1 << 24).route == .signal(.initialize, to: .processor(apicID: 1)))
        #expect(InterruptCommand(low: 0x0608, high: 1 << 24).route == .signal(.startup(vector: 8), to: .processor(apicID: 1)))
        #expect(InterruptCommand(low: 0x000C_4500, high: 0).route == .signal(.initialize, to: .allExcludingSelf))
        #expect(InterruptCommand(low: 0x000C_4610, high: 0xFF00_0000).route == .signal(.startup(vector: 0x10), to: .allExcludingSelf))
        #expect(InterruptCommand(low: 0x0008_4500, high: 0).route == .signal(.initialize, to: .allIncludingSelf))
        #expect(InterruptCommand(low: 0x0004_4500, high: 0).route == .signal(.initialize, to: .onlySelf))
        // Physical 0xFF is the broadcast: every CPU, the sender too.
        #expect(InterruptCommand(low: 0x4500, high: 0xFF00_0000).route == .signal(.initialize, to: .allIncludingSelf))
        // STARTUP's level and trigger bits do not matter.
        #expect(InterruptCommand(low: 0x0600, high: 0).route == .signal(.startup(vector: 0), to: .processor(apicID: 0)))
    }

    @Test("INIT de-assert is dropped, logical INIT/STARTUP refused, the rest sent as written")
    func others() {
        // Linux's INIT de-assert (level-triggered, level 0): no effect on current CPUs.
        #expect(InterruptCommand(low: 0x8500, high: 1 << 24).route == .drop)
        #expect(InterruptCommand(low: 0x000C_8500, high: 0).route == .drop)
        // Edge-triggered with level 0 is still an INIT.
        #expect(InterruptCommand(low: 0x0500, high: 1 << 24).route == .signal(.initialize, to: .processor(apicID: 1)))
        #expect(InterruptCommand(low: 0x4D00, high: 1 << 24).route == .logicalDestination)
        #expect(InterruptCommand(low: 0x4E08, high: 1 << 24).route == .logicalDestination)
        // A shorthand ignores the destination mode.
        #expect(InterruptCommand(low: 0x000C_4D00, high: 0).route == .signal(.initialize, to: .allExcludingSelf))
        for low: UInt32 in [0x0000_00EF, 0x000C_00FD, 0x0000_4400, 0x0000_0800 | 0x31, 0x0000_0131, 0x0000_0200, 0x0000_0300, 0x0000_0700] {
            #expect(InterruptCommand(low: low, high: 0x0100_0000).route == .send, "ICR low \(low)")
        }
    }
}
