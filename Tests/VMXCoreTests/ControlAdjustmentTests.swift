import Primitives
import Testing
@testable import VMXCore

@Suite("Control adjustment against Bochs corei7_skylake_x")
struct ControlAdjustmentTests {
    let caps: VMXCapabilities

    init() throws {
        caps = try VMXCapabilities.read(BochsSkylakeX.msrs, cpuid: BochsSkylakeX.cpu)
    }

    @Test func pinBased() throws {
        let pin = try caps.pinBased.adjust(
            required: [.externalInterruptExiting, .nmiExiting, .virtualNMIs],
            optional: [.activateVMXPreemptionTimer, .processPostedInterrupts])
        #expect(pin.rawValue == 0x7F)  // default1 0x16 + 0x01 + 0x08 + 0x20 + 0x40; posted interrupts dropped
    }

    @Test func pinBasedPostedInterruptsRequired() {
        let error = VMXError.controlNotAllowed(.pinBased, bits: 0x80, msr: .vmxTruePinBasedControls)
        #expect(throws: error) { try caps.pinBased.adjust(required: .processPostedInterrupts) }
        #expect(error.message == "pin-based VM-execution controls: process posted interrupts (bit 7) required but not allowed by IA32_VMX_TRUE_PINBASED_CTLS (0x48d)")
    }

    @Test("primary: TRUE MSR lets CR3-load/store exiting be 0")
    func primary() throws {
        let primary = try caps.primaryProcessorBased.adjust(
            required: [.useIOBitmaps, .useMSRBitmaps, .activateSecondaryControls],
            optional: [.monitorTrapFlag])
        #expect(primary.rawValue == 0x9600_6172)
        #expect(!primary.contains(.cr3LoadExiting))
        #expect(!primary.contains(.monitorTrapFlag))

        let nonTrue = ControlCapability<PrimaryProcessorControls>(msr: .vmxPrimaryProcessorControls, rawValue: BochsSkylakeX.msrValues[0x482]!)
        let withDefault1 = try nonTrue.adjust(required: [.useIOBitmaps, .useMSRBitmaps, .activateSecondaryControls])
        #expect(withDefault1.rawValue == 0x9601_E172)
    }

    @Test func primaryMonitorTrapFlagRequired() {
        #expect(throws: VMXError.controlNotAllowed(.primaryProcessorBased, bits: 1 << 27, msr: .vmxTruePrimaryProcessorControls)) {
            try caps.primaryProcessorBased.adjust(required: [.hltExiting, .monitorTrapFlag])
        }
    }

    @Test("secondary: EPT, VPID, unrestricted guest, and the instructions Linux needs")
    func secondary() throws {
        let secondary = try caps.secondaryProcessorBased.adjust(
            required: [.enableEPT, .enableVPID, .unrestrictedGuest],
            optional: [.enableRDTSCP, .enableINVPCID, .enableXSAVES, .enableENCLSExiting])
        #expect(secondary.rawValue == 0x0010_10AA)
        #expect(secondary == [.enableEPT, .enableVPID, .unrestrictedGuest, .enableRDTSCP, .enableINVPCID, .enableXSAVES])
    }

    @Test func vmExit() throws {
        let exit = try caps.vmExit.adjust(
            required: [.hostAddressSpaceSize, .acknowledgeInterruptOnExit, .savePAT, .loadPAT, .saveEFER, .loadEFER],
            optional: [.clearBNDCFGS])
        #expect(exit.rawValue == 0x003F_EFFB)
        #expect(!exit.contains(.saveDebugControls))
        #expect(throws: VMXError.controlNotAllowed(.vmExit, bits: 1 << 23, msr: .vmxTrueExitControls)) {
            try caps.vmExit.adjust(required: .clearBNDCFGS)
        }
    }

    @Test func vmEntry() throws {
        let entry = try caps.vmEntry.adjust(required: [.ia32eModeGuest, .loadEFER, .loadPAT])
        #expect(entry.rawValue == 0xD3FB)
        let error = VMXError.controlNotAllowed(.vmEntry, bits: 0x11_0000, msr: .vmxTrueEntryControls)
        #expect(throws: error) { try caps.vmEntry.adjust(required: [.loadEFER, .loadBNDCFGS, .loadCETState]) }
        #expect(error.message == "VM-entry controls: load IA32_BNDCFGS (bit 16), load CET state (bit 20) required but not allowed by IA32_VMX_TRUE_ENTRY_CTLS (0x490)")
    }

    @Test("nothing required: exactly the must-be-1 controls")
    func nothingRequired() throws {
        #expect(try caps.pinBased.adjust(required: []).rawValue == 0x16)
        #expect(try caps.primaryProcessorBased.adjust(required: []).rawValue == 0x0400_6172)
        #expect(try caps.secondaryProcessorBased.adjust(required: []).rawValue == 0)
        #expect(try caps.vmExit.adjust(required: []).rawValue == 0x0003_6DFB)
        #expect(try caps.vmEntry.adjust(required: []).rawValue == 0x11FB)
    }

    @Test("every bit, every set: allowed-1 bits are granted, the others refused by name", arguments: [
        VMXControlSet.pinBased, .primaryProcessorBased, .secondaryProcessorBased, .vmExit, .vmEntry,
    ])
    func everyBit(set: VMXControlSet) throws {
        switch set {
        case .pinBased: try checkEveryBit(caps.pinBased)
        case .primaryProcessorBased: try checkEveryBit(caps.primaryProcessorBased)
        case .secondaryProcessorBased: try checkEveryBit(caps.secondaryProcessorBased)
        case .vmExit: try checkEveryBit(caps.vmExit)
        case .vmEntry: try checkEveryBit(caps.vmEntry)
        }
    }

    private func checkEveryBit<C: VMXControls>(_ capability: ControlCapability<C>) throws {
        let allowed1 = UInt32(truncatingIfNeeded: capability.rawValue >> 32)
        let allowed0 = UInt32(truncatingIfNeeded: capability.rawValue)
        var granted = 0
        for bit in 0..<32 {
            let control = C(rawValue: 1 << bit)
            if allowed1 & (1 << bit) != 0 {
                let word = try capability.adjust(required: control)
                #expect(word.rawValue == allowed0 | 1 << bit)
                let optional = try capability.adjust(required: [], optional: control)
                #expect(optional == word)
                granted += 1
            } else {
                #expect(throws: VMXError.controlNotAllowed(C.controlSet, bits: 1 << bit, msr: capability.msr)) {
                    try capability.adjust(required: control)
                }
                #expect(try capability.adjust(required: [], optional: control).rawValue == allowed0)
            }
        }
        #expect(granted == allowed1.nonzeroBitCount)
        let everything = try capability.adjust(required: [], optional: C(rawValue: 0xFFFF_FFFF))
        #expect(everything.rawValue == allowed1)
    }

    @Test("every allowed-1 bit of Bochs has an SDM name")
    func namedBits() {
        let sets: [(VMXControlSet, UInt64)] = [
            (.pinBased, caps.pinBased.rawValue), (.primaryProcessorBased, caps.primaryProcessorBased.rawValue),
            (.secondaryProcessorBased, caps.secondaryProcessorBased.rawValue), (.vmExit, caps.vmExit.rawValue),
            (.vmEntry, caps.vmEntry.rawValue),
        ]
        for (set, raw) in sets {
            let freelySettable = UInt32(truncatingIfNeeded: raw >> 32) & ~set.default1Bits
            for bit in 0..<32 where freelySettable & (1 << bit) != 0 {
                #expect(set.name(ofBit: bit) != nil, "\(set.title) bit \(bit)")
            }
        }
        #expect(VMXControlSet.secondaryProcessorBased.describe(bits: 0x0020_0082) == "enable EPT (bit 1), unrestricted guest (bit 7), bit 21")
    }

    @Test("static members and name tables agree")
    func namesMatchMembers() {
        #expect(VMXControlSet.pinBased.name(ofBit: PinBasedControls.activateVMXPreemptionTimer.rawValue.trailingZeroBitCount).map { "\($0)" } == "activate VMX-preemption timer")
        #expect(VMXControlSet.primaryProcessorBased.name(ofBit: PrimaryProcessorControls.useMSRBitmaps.rawValue.trailingZeroBitCount).map { "\($0)" } == "use MSR bitmaps")
        #expect(VMXControlSet.secondaryProcessorBased.name(ofBit: SecondaryProcessorControls.enableXSAVES.rawValue.trailingZeroBitCount).map { "\($0)" } == "enable XSAVES/XRSTORS")
        #expect(VMXControlSet.vmExit.name(ofBit: VMExitControls.hostAddressSpaceSize.rawValue.trailingZeroBitCount).map { "\($0)" } == "host address-space size")
        #expect(VMXControlSet.vmEntry.name(ofBit: VMEntryControls.ia32eModeGuest.rawValue.trailingZeroBitCount).map { "\($0)" } == "IA-32e mode guest")
    }
}
