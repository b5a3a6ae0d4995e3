import Primitives
import Testing
@testable import VMXCore

@Suite("writeVMCS, guest and host state")
struct VMCSWriterTests {
    @Test("64-bit sample: every field written exactly once with the expected value")
    func writeEverything() throws {
        let controls = try SampleVMCS.controls(longMode: true)
        var vmcs = FakeVMCS()
        try writeVMCS(&vmcs, controls: controls, host: SampleVMCS.host, guest: try SampleVMCS.longModeGuest)

        let pat = VMCSGuestState.defaultPAT
        let flat: UInt64 = 0xFFFF_FFFF
        var expected: [UInt32: UInt64] = [:]
        func put<V>(_ field: VMCSField<V>, _ value: UInt64) {
            #expect(expected[field.encoding] == nil, "\(field.name) listed twice")
            expected[field.encoding] = value
        }
        // Controls.
        put(VMCS.pinBasedControls, 0x3E)
        put(VMCS.primaryProcessorBasedControls, 0x9600_61F2)
        put(VMCS.secondaryProcessorBasedControls, 0x0010_10AA)
        put(VMCS.vmExitControls, 0x003F_6FFF)
        put(VMCS.vmEntryControls, 0xD3FF)
        put(VMCS.exceptionBitmap, 0)
        put(VMCS.pageFaultErrorCodeMask, 0)
        put(VMCS.pageFaultErrorCodeMatch, 0)
        put(VMCS.cr0GuestHostMask, 0)
        put(VMCS.cr0ReadShadow, 0)
        put(VMCS.cr4GuestHostMask, 0x2000)
        put(VMCS.cr4ReadShadow, 0)
        put(VMCS.cr3TargetCount, 0)
        put(VMCS.vmExitMSRStoreCount, 0)
        put(VMCS.vmExitMSRLoadCount, 0)
        put(VMCS.vmEntryMSRLoadCount, 0)
        put(VMCS.vmEntryInterruptionInformation, 0)
        put(VMCS.msrBitmapAddress, 0x20_1000)
        put(VMCS.ioBitmapAAddress, 0x20_2000)
        put(VMCS.ioBitmapBAddress, 0x20_3000)
        put(VMCS.eptPointer, 0x30_001E)
        put(VMCS.virtualProcessorIdentifier, 1)
        // Host.
        put(VMCS.hostCR0, 0x8001_0033)
        put(VMCS.hostCR3, 0x20_4000)
        put(VMCS.hostCR4, 0x2620)
        put(VMCS.hostCSSelector, 0x08)
        for field in [VMCS.hostSSSelector, VMCS.hostDSSelector, VMCS.hostESSelector, VMCS.hostFSSelector, VMCS.hostGSSelector] {
            put(field, 0x10)
        }
        put(VMCS.hostTRSelector, 0x18)
        put(VMCS.hostFSBase, 0)
        put(VMCS.hostGSBase, 0)
        put(VMCS.hostTRBase, 0x20_5000)
        put(VMCS.hostGDTRBase, 0x20_6000)
        put(VMCS.hostIDTRBase, 0x20_7000)
        put(VMCS.hostSysenterCS, 0)
        put(VMCS.hostSysenterESP, 0)
        put(VMCS.hostSysenterEIP, 0)
        put(VMCS.hostEFER, 0x500)
        put(VMCS.hostPAT, pat)
        put(VMCS.hostRSP, 0x20_9000)
        put(VMCS.hostRIP, 0x21_0000)
        // Guest.
        put(VMCS.guestCR0, 0x8001_0033)
        put(VMCS.guestCR3, 0x7_0000)
        put(VMCS.guestCR4, 0x2620)
        put(VMCS.guestDR7, 0x400)
        put(VMCS.guestRSP, 0x1F_0000)
        put(VMCS.guestRIP, 0x10_0000)
        put(VMCS.guestRFLAGS, 0x2)
        let dataSegments: [(VMCSField<UInt16>, VMCSField<UInt64>, VMCSField<UInt32>, VMCSField<UInt32>)] = [
            (VMCS.guestESSelector, VMCS.guestESBase, VMCS.guestESLimit, VMCS.guestESAccessRights),
            (VMCS.guestSSSelector, VMCS.guestSSBase, VMCS.guestSSLimit, VMCS.guestSSAccessRights),
            (VMCS.guestDSSelector, VMCS.guestDSBase, VMCS.guestDSLimit, VMCS.guestDSAccessRights),
            (VMCS.guestFSSelector, VMCS.guestFSBase, VMCS.guestFSLimit, VMCS.guestFSAccessRights),
            (VMCS.guestGSSelector, VMCS.guestGSBase, VMCS.guestGSLimit, VMCS.guestGSAccessRights),
        ]
        for (selector, base, limit, rights) in dataSegments {
            put(selector, 0x10)
            put(base, 0)
            put(limit, flat)
            put(rights, 0xC093)
        }
        put(VMCS.guestCSSelector, 0x08)
        put(VMCS.guestCSBase, 0)
        put(VMCS.guestCSLimit, flat)
        put(VMCS.guestCSAccessRights, 0xA09B)
        put(VMCS.guestLDTRSelector, 0)
        put(VMCS.guestLDTRBase, 0)
        put(VMCS.guestLDTRLimit, 0)
        put(VMCS.guestLDTRAccessRights, 0x1_0000)
        put(VMCS.guestTRSelector, 0x18)
        put(VMCS.guestTRBase, 0)
        put(VMCS.guestTRLimit, 0x67)
        put(VMCS.guestTRAccessRights, 0x8B)
        put(VMCS.guestGDTRBase, 0)
        put(VMCS.guestGDTRLimit, 0)
        put(VMCS.guestIDTRBase, 0)
        put(VMCS.guestIDTRLimit, 0)
        put(VMCS.guestDebugControl, 0)
        put(VMCS.guestSysenterCS, 0)
        put(VMCS.guestSysenterESP, 0)
        put(VMCS.guestSysenterEIP, 0)
        put(VMCS.guestPAT, pat)
        put(VMCS.guestEFER, 0x500)
        put(VMCS.guestActivityState, 0)
        put(VMCS.guestInterruptibilityState, 0)
        put(VMCS.guestPendingDebugExceptions, 0)
        put(VMCS.vmcsLinkPointer, ~0)

        #expect(vmcs.writes.count == expected.count)
        #expect(vmcs.writeCounts.values.allSatisfy { $0 == 1 })
        #expect(Set(vmcs.writeCounts.keys) == Set(expected.keys))
        for (encoding, value) in expected {
            #expect(vmcs.values[encoding] == value, "field 0x\(String(encoding, radix: 16))")
        }
        #expect(expected.count == 97)  // controls 22, host 22, guest 53
    }

    @Test("real-mode guest: segments from selectors, IVT, unusable LDTR, fixed bits applied")
    func realModeGuest() throws {
        let guest = try SampleVMCS.realModeGuest
        #expect(guest.cr0 == [.et, .ne])
        #expect(guest.cr4 == .vmxe)
        #expect(guest.cs == SegmentRegister(selector: 0x1000, base: 0x1_0000, limit: 0xFFFF, accessRights: .realModeCode))
        #expect(guest.ss == SegmentRegister(selector: 0x1000, base: 0x1_0000, limit: 0xFFFF, accessRights: .realModeData))
        #expect(guest.rip == 0 && guest.rsp == 0xFFF0)
        #expect(guest.idtr == DescriptorTableRegister(base: 0, limit: 0x3FF))
        #expect(guest.ldtr.accessRights.isUnusable)
        #expect(guest.tr.accessRights.type == 11 && !guest.tr.accessRights.isCodeOrData)
        #expect(guest.efer.isEmpty)
        #expect(guest.vmcsLinkPointer == ~0)
    }

    @Test("guest/host PAT and EFER are written only when the controls load them")
    func patAndEFERFollowControls() throws {
        var vmcs = FakeVMCS()
        vmcs.unsupported = [VMCS.guestPAT.encoding, VMCS.guestEFER.encoding, VMCS.hostPAT.encoding, VMCS.hostEFER.encoding]
        try SampleVMCS.longModeGuest.write(to: &vmcs, entryControls: [.ia32eModeGuest])
        try SampleVMCS.host.write(to: &vmcs, exitControls: [.hostAddressSpaceSize])
        #expect(vmcs.writes.count == 53 + 22 - 4)  // guest 53, host 22, minus PAT and EFER of each
        #expect(throws: VMXError.failValid(VMInstructionError(rawValue: 12))) {
            try SampleVMCS.longModeGuest.write(to: &vmcs)
        }
    }

    @Test("segment access rights: named bitfields")
    func accessRights() {
        let code = SegmentAccessRights.code64
        #expect(code.type == 11 && code.isCodeOrData && code.dpl == 0 && code.isPresent)
        #expect(code.is64BitCode && !code.isDefault32Bit && code.isGranular && !code.isUnusable && !code.isAvailable)
        #expect(code[bits: 0...3] == 0xB && code[bits: 13...15] == 0b101)
        var rights = SegmentAccessRights(rawValue: 0)
        rights.type = 3
        rights.isCodeOrData = true
        rights.dpl = 3
        rights.isPresent = true
        #expect(rights.rawValue == 0xF3)
        rights.isUnusable = true
        rights.rawValue |= 0x100
        #expect(rights.reservedBits == 0x100)
        #expect(SegmentAccessRights.flatData.rawValue == 0xC093 && SegmentAccessRights.busyTSS.rawValue == 0x8B)
    }
}
