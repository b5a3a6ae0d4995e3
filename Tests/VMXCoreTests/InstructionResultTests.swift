import Testing
@testable import VMXCore

@Suite("VMX instruction results")
struct InstructionResultTests {
    @Test("RFLAGS decoding", arguments: [
        (UInt64(0x2), VMXInstructionStatus.succeeded),
        (0x202, .succeeded),  // IF does not matter
        (0x3, .failedInvalid),  // CF
        (0x42, .failedValid),  // ZF
        (0x43, .failedInvalid),  // CF wins
        (0x896, .succeeded),  // PF AF SF OF without CF or ZF: no failure flag
    ])
    func decode(rflags: UInt64, expected: VMXInstructionStatus) {
        #expect(VMXInstructionStatus(rflags: RFLAGS(rawValue: rflags)) == expected)
    }

    @Test("the error field is read only for VMfailValid")
    func check() throws {
        var reads = 0
        try VMXInstructionStatus.succeeded.check { reads += 1; return 0 }
        #expect(throws: VMXError.failInvalid) { try VMXInstructionStatus.failedInvalid.check { reads += 1; return 0 } }
        #expect(reads == 0)
        #expect(throws: VMXError.failValid(.entryWithInvalidControlFields)) {
            try VMXInstructionStatus(rflags: [.reserved1, .zero]).check { reads += 1; return 7 }
        }
        #expect(reads == 1)
        #expect(VMCS.vmInstructionError.encoding == 0x4400)
    }

    @Test func messages() {
        #expect(VMXError.failValid(.entryWithInvalidHostStateFields).message
            == "VMX instruction failed: VMfailValid, VM-instruction error 8: VM entry with invalid host-state field(s)")
        #expect(VMXError.failInvalid.message == "VMX instruction failed: VMfailInvalid (CF=1: no current VMCS or invalid pointer)")
        #expect(VMInstructionError(rawValue: 14).message == "VM-instruction error 14: reserved")
    }

    @Test("the SDM table: 1-28 described except the reserved 14, 21, 27")
    func table() {
        for number in UInt32(0)...40 {
            let described = VMInstructionError(rawValue: number).sdmDescription != nil
            #expect(described == ((1...28).contains(number) && ![14, 21, 27].contains(number)), "error \(number)")
        }
        let expected: [(VMInstructionError, String)] = [
            (.vmcallInVMXRootOperation, "VMCALL executed in VMX root operation"),
            (.vmclearInvalidAddress, "VMCLEAR with invalid physical address"),
            (.vmclearWithVMXONPointer, "VMCLEAR with VMXON pointer"),
            (.vmlaunchNonClearVMCS, "VMLAUNCH with non-clear VMCS"),
            (.vmresumeNonLaunchedVMCS, "VMRESUME with non-launched VMCS"),
            (.vmresumeAfterVMXOFF, "VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)"),
            (.entryWithInvalidControlFields, "VM entry with invalid control field(s)"),
            (.entryWithInvalidHostStateFields, "VM entry with invalid host-state field(s)"),
            (.vmptrldInvalidAddress, "VMPTRLD with invalid physical address"),
            (.vmptrldWithVMXONPointer, "VMPTRLD with VMXON pointer"),
            (.vmptrldIncorrectRevisionID, "VMPTRLD with incorrect VMCS revision identifier"),
            (.unsupportedVMCSComponent, "VMREAD/VMWRITE from/to unsupported VMCS component"),
            (.vmwriteReadOnlyComponent, "VMWRITE to read-only VMCS component"),
            (.vmxonInVMXRootOperation, "VMXON executed in VMX root operation"),
            (.entryWithInvalidExecutiveVMCSPointer, "VM entry with invalid executive-VMCS pointer"),
            (.entryWithNonLaunchedExecutiveVMCS, "VM entry with non-launched executive VMCS"),
            (.entryWithEventsBlockedByMOVSS, "VM entry with events blocked by MOV SS"),
            (.invalidINVEPTINVVPIDOperand, "Invalid operand to INVEPT/INVVPID"),
        ]
        for (error, text) in expected {
            #expect(error.sdmDescription.map { "\($0)" } == text)
        }
        #expect(VMInstructionError.vmxonInVMXRootOperation.rawValue == 15)
        #expect(VMInstructionError.invalidINVEPTINVVPIDOperand.rawValue == 28)
    }
}
