import Testing
@testable import Devices

/// The Interrupt Command Register words pxHV sends to other CPUs, against
/// the SDM's layout and the values of its MP initialization example.
@Test("ICR: INIT 0x4500, NMI 0x4400, STARTUP 0x46VV with VV the page number")
func icrCommands() {
    // Intel SDM Vol. 3A, "Typical BSP Initialization Sequence": INIT IPI
    // 0x000C4500 (all excluding self), STARTUP 0x000C46XX; ours are the
    // same with destination shorthand 00 (the destination field).
    #expect(ICRCommand.initAssert.rawValue == 0x4500)
    #expect(ICRCommand.nmi.rawValue == 0x4400)
    #expect(ICRCommand.startup(page: 0x6F000).rawValue == 0x466F)
    #expect(ICRCommand.startup(page: 0x9F000).rawValue == 0x469F)
    #expect(ICRCommand.deliveryStatusPending == 1 << 12)
}
