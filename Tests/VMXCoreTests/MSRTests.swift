import Testing
@testable import VMXCore

@Suite("MSR numbers and names")
struct MSRTests {
    @Test("SDM numbers and names", arguments: [
        (MSR.featureControl, UInt32(0x3A), "IA32_FEATURE_CONTROL"),
        (.vmxBasic, 0x480, "IA32_VMX_BASIC"),
        (.vmxPinBasedControls, 0x481, "IA32_VMX_PINBASED_CTLS"),
        (.vmxPrimaryProcessorControls, 0x482, "IA32_VMX_PROCBASED_CTLS"),
        (.vmxExitControls, 0x483, "IA32_VMX_EXIT_CTLS"),
        (.vmxEntryControls, 0x484, "IA32_VMX_ENTRY_CTLS"),
        (.vmxMiscellaneous, 0x485, "IA32_VMX_MISC"),
        (.vmxCR0Fixed0, 0x486, "IA32_VMX_CR0_FIXED0"),
        (.vmxCR0Fixed1, 0x487, "IA32_VMX_CR0_FIXED1"),
        (.vmxCR4Fixed0, 0x488, "IA32_VMX_CR4_FIXED0"),
        (.vmxCR4Fixed1, 0x489, "IA32_VMX_CR4_FIXED1"),
        (.vmxVMCSEnumeration, 0x48A, "IA32_VMX_VMCS_ENUM"),
        (.vmxSecondaryProcessorControls, 0x48B, "IA32_VMX_PROCBASED_CTLS2"),
        (.vmxEPTVPIDCapability, 0x48C, "IA32_VMX_EPT_VPID_CAP"),
        (.vmxTruePinBasedControls, 0x48D, "IA32_VMX_TRUE_PINBASED_CTLS"),
        (.vmxTruePrimaryProcessorControls, 0x48E, "IA32_VMX_TRUE_PROCBASED_CTLS"),
        (.vmxTrueExitControls, 0x48F, "IA32_VMX_TRUE_EXIT_CTLS"),
        (.vmxTrueEntryControls, 0x490, "IA32_VMX_TRUE_ENTRY_CTLS"),
        (.vmxVMFunctions, 0x491, "IA32_VMX_VMFUNC"),
        (.efer, 0xC000_0080, "IA32_EFER"),
        (.pat, 0x277, "IA32_PAT"),
        (.debugControl, 0x1D9, "IA32_DEBUGCTL"),
        (.fsBase, 0xC000_0100, "IA32_FS_BASE"),
        (.gsBase, 0xC000_0101, "IA32_GS_BASE"),
        (.kernelGSBase, 0xC000_0102, "IA32_KERNEL_GS_BASE"),
        (.sysenterCS, 0x174, "IA32_SYSENTER_CS"),
        (.sysenterESP, 0x175, "IA32_SYSENTER_ESP"),
        (.sysenterEIP, 0x176, "IA32_SYSENTER_EIP"),
        (.vmCR, 0xC001_0114, "VM_CR"),
        (.vmHostSaveAreaPA, 0xC001_0117, "VM_HSAVE_PA"),
    ])
    func numbers(msr: MSR, number: UInt32, name: String) {
        #expect(msr.rawValue == number)
        #expect(msr.name.map { "\($0)" } == name)
    }

    @Test func labels() {
        #expect(MSR.vmxBasic.label == "IA32_VMX_BASIC (0x480)")
        #expect(MSR(0x1234).label == "MSR 0x1234")
        #expect(MSR(0x1234).name == nil)
    }

    @Test("each control set's capability MSRs")
    func controlSetMSRs() {
        #expect(VMXControlSet.pinBased.capabilityMSR == .vmxPinBasedControls)
        #expect(VMXControlSet.pinBased.trueCapabilityMSR == .vmxTruePinBasedControls)
        #expect(VMXControlSet.primaryProcessorBased.trueCapabilityMSR == .vmxTruePrimaryProcessorControls)
        #expect(VMXControlSet.secondaryProcessorBased.capabilityMSR == .vmxSecondaryProcessorControls)
        #expect(VMXControlSet.secondaryProcessorBased.trueCapabilityMSR == nil)
        #expect(VMXControlSet.vmExit.trueCapabilityMSR == .vmxTrueExitControls)
        #expect(VMXControlSet.vmEntry.trueCapabilityMSR == .vmxTrueEntryControls)
    }
}
