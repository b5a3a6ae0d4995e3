import Testing
@testable import VMXCore

/// The Multiboot start state (`VMCSGuestState.protectedMode32`): what
/// Multiboot 0.6.96, "Machine state", asks for, and accepted by the
/// pre-launch checker with Bochs's capabilities.
@Suite("32-bit protected-mode start (Multiboot)")
struct ProtectedModeStartTests {
    static var guest: VMCSGuestState {
        get throws {
            VMCSGuestState.protectedMode32(eip: 0x10_000C, esp: 0)
                .applyingFixedBits(try SampleVMCS.capabilities, unrestrictedGuest: true)
        }
    }

    @Test("flat 32-bit segments, PE without PG, IF = 0, no IA-32e mode")
    func machineState() throws {
        let guest = try Self.guest
        #expect(guest.cr0.contains(.pe) && !guest.cr0.contains(.pg) && guest.cr0.contains(.ne))
        #expect(guest.efer.isEmpty && !guest.cr4.contains(.pae))
        #expect(guest.rip == 0x10_000C && guest.rflags.rawValue == 0x2)
        #expect(guest.cs == SegmentRegister(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, accessRights: SegmentAccessRights(rawValue: 0xC09B)))
        for data in [guest.ds, guest.es, guest.fs, guest.gs, guest.ss] {
            #expect(data == SegmentRegister(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, accessRights: SegmentAccessRights(rawValue: 0xC093)))
        }
    }

    @Test("passes every check of the pre-launch checker (no IA-32e mode guest control)")
    func passesTheChecker() throws {
        let config = CheckerConfig(
            controls: try SampleVMCS.controls(longMode: false), host: SampleVMCS.host, guest: try Self.guest,
            capabilities: try SampleVMCS.capabilities)
        let failure = config.check()
        #expect(failure == nil, "\(failure?.message.description ?? "")")
    }

    @Test("needs unrestricted guest: without it CR0.PG = 0 breaks the fixed bits")
    func needsUnrestrictedGuest() throws {
        var config = CheckerConfig(
            controls: try SampleVMCS.controls(longMode: false), host: SampleVMCS.host, guest: try Self.guest,
            capabilities: try SampleVMCS.capabilities)
        config.controls.secondaryProcessorBased.remove(.unrestrictedGuest)
        #expect(config.check()?.check == .guestCR0FixedBits)
    }
}
