@testable import VMXCore

/// A VMCS field without its value type: what `VMCS.allFields` lists.
struct VMCSFieldDescriptor: Sendable {
    let encoding: UInt32
    let name: StaticString
    /// The bit width of the Swift type the catalogue gives the field (16, 32 or 64).
    let valueBitWidth: Int

    init(encoding: UInt32, name: StaticString, valueBitWidth: Int) {
        self.encoding = encoding
        self.name = name
        self.valueBitWidth = valueBitWidth
    }

    /// Bits 14:13.
    var width: VMCSFieldWidth { VMCSFieldWidth(encoding: encoding) }
    /// Bits 11:10.
    var type: VMCSFieldType { VMCSFieldType(encoding: encoding) }
}

extension VMCSField {
    /// The field without its value type, for lists.
    var descriptor: VMCSFieldDescriptor {
        VMCSFieldDescriptor(encoding: encoding, name: name, valueBitWidth: Value.bitWidth)
    }
}

extension VMCS {
    /// Every field of the catalogue (`VMCS+Fields.swift`), in encoding order
    /// within each width, for the test that checks every field's width
    /// against its encoding.
    static let allFields: [VMCSFieldDescriptor] = [
        virtualProcessorIdentifier.descriptor, postedInterruptNotificationVector.descriptor, eptpIndex.descriptor,
        hlatPrefixSize.descriptor, lastPIDPointerIndex.descriptor, guestESSelector.descriptor,
        guestCSSelector.descriptor, guestSSSelector.descriptor, guestDSSelector.descriptor,
        guestFSSelector.descriptor, guestGSSelector.descriptor, guestLDTRSelector.descriptor,
        guestTRSelector.descriptor, guestInterruptStatus.descriptor, pmlIndex.descriptor,
        guestUINV.descriptor, hostESSelector.descriptor, hostCSSelector.descriptor,
        hostSSSelector.descriptor, hostDSSelector.descriptor, hostFSSelector.descriptor,
        hostGSSelector.descriptor, hostTRSelector.descriptor, ioBitmapAAddress.descriptor,
        ioBitmapBAddress.descriptor, msrBitmapAddress.descriptor, vmExitMSRStoreAddress.descriptor,
        vmExitMSRLoadAddress.descriptor, vmEntryMSRLoadAddress.descriptor, executiveVMCSPointer.descriptor,
        pmlAddress.descriptor, tscOffset.descriptor, virtualAPICAddress.descriptor,
        apicAccessAddress.descriptor, postedInterruptDescriptorAddress.descriptor, vmFunctionControls.descriptor,
        eptPointer.descriptor, eoiExitBitmap0.descriptor, eoiExitBitmap1.descriptor,
        eoiExitBitmap2.descriptor, eoiExitBitmap3.descriptor, eptpListAddress.descriptor,
        vmreadBitmapAddress.descriptor, vmwriteBitmapAddress.descriptor, virtualizationExceptionInformationAddress.descriptor,
        xssExitingBitmap.descriptor, enclsExitingBitmap.descriptor, subPagePermissionTablePointer.descriptor,
        tscMultiplier.descriptor, tertiaryProcessorBasedControls.descriptor, enclvExitingBitmap.descriptor,
        lowPASIDDirectoryAddress.descriptor, highPASIDDirectoryAddress.descriptor, sharedEPTPointer.descriptor,
        pconfigExitingBitmap.descriptor, hlatPointer.descriptor, pidPointerTableAddress.descriptor,
        secondaryVMExitControls.descriptor, specCtrlMask.descriptor, specCtrlShadow.descriptor,
        injectedEventData.descriptor, guestPhysicalAddress.descriptor, originalEventData.descriptor,
        vmcsLinkPointer.descriptor, guestDebugControl.descriptor, guestPAT.descriptor,
        guestEFER.descriptor, guestPerfGlobalControl.descriptor, guestPDPTE0.descriptor,
        guestPDPTE1.descriptor, guestPDPTE2.descriptor, guestPDPTE3.descriptor,
        guestBNDCFGS.descriptor, guestRTITControl.descriptor, guestLBRControl.descriptor,
        guestPKRS.descriptor, guestFREDConfig.descriptor, guestFREDRSP1.descriptor,
        guestFREDRSP2.descriptor, guestFREDRSP3.descriptor, guestFREDStackLevels.descriptor,
        guestFREDSSP1.descriptor, guestFREDSSP2.descriptor, guestFREDSSP3.descriptor,
        hostPAT.descriptor, hostEFER.descriptor, hostPerfGlobalControl.descriptor,
        hostPKRS.descriptor, hostFREDConfig.descriptor, hostFREDRSP1.descriptor,
        hostFREDRSP2.descriptor, hostFREDRSP3.descriptor, hostFREDStackLevels.descriptor,
        hostFREDSSP1.descriptor, hostFREDSSP2.descriptor, hostFREDSSP3.descriptor,
        pinBasedControls.descriptor, primaryProcessorBasedControls.descriptor, exceptionBitmap.descriptor,
        pageFaultErrorCodeMask.descriptor, pageFaultErrorCodeMatch.descriptor, cr3TargetCount.descriptor,
        vmExitControls.descriptor, vmExitMSRStoreCount.descriptor, vmExitMSRLoadCount.descriptor,
        vmEntryControls.descriptor, vmEntryMSRLoadCount.descriptor, vmEntryInterruptionInformation.descriptor,
        vmEntryExceptionErrorCode.descriptor, vmEntryInstructionLength.descriptor, tprThreshold.descriptor,
        secondaryProcessorBasedControls.descriptor, pleGap.descriptor, pleWindow.descriptor,
        instructionTimeoutControl.descriptor, vmInstructionError.descriptor, exitReason.descriptor,
        vmExitInterruptionInformation.descriptor, vmExitInterruptionErrorCode.descriptor, idtVectoringInformation.descriptor,
        idtVectoringErrorCode.descriptor, vmExitInstructionLength.descriptor, vmExitInstructionInformation.descriptor,
        guestESLimit.descriptor, guestCSLimit.descriptor, guestSSLimit.descriptor,
        guestDSLimit.descriptor, guestFSLimit.descriptor, guestGSLimit.descriptor,
        guestLDTRLimit.descriptor, guestTRLimit.descriptor, guestGDTRLimit.descriptor,
        guestIDTRLimit.descriptor, guestESAccessRights.descriptor, guestCSAccessRights.descriptor,
        guestSSAccessRights.descriptor, guestDSAccessRights.descriptor, guestFSAccessRights.descriptor,
        guestGSAccessRights.descriptor, guestLDTRAccessRights.descriptor, guestTRAccessRights.descriptor,
        guestInterruptibilityState.descriptor, guestActivityState.descriptor, guestSMBASE.descriptor,
        guestSysenterCS.descriptor, vmxPreemptionTimerValue.descriptor, hostSysenterCS.descriptor,
        cr0GuestHostMask.descriptor, cr4GuestHostMask.descriptor, cr0ReadShadow.descriptor,
        cr4ReadShadow.descriptor, cr3TargetValue0.descriptor, cr3TargetValue1.descriptor,
        cr3TargetValue2.descriptor, cr3TargetValue3.descriptor, exitQualification.descriptor,
        ioRCX.descriptor, ioRSI.descriptor, ioRDI.descriptor,
        ioRIP.descriptor, guestLinearAddress.descriptor, guestCR0.descriptor,
        guestCR3.descriptor, guestCR4.descriptor, guestESBase.descriptor,
        guestCSBase.descriptor, guestSSBase.descriptor, guestDSBase.descriptor,
        guestFSBase.descriptor, guestGSBase.descriptor, guestLDTRBase.descriptor,
        guestTRBase.descriptor, guestGDTRBase.descriptor, guestIDTRBase.descriptor,
        guestDR7.descriptor, guestRSP.descriptor, guestRIP.descriptor,
        guestRFLAGS.descriptor, guestPendingDebugExceptions.descriptor, guestSysenterESP.descriptor,
        guestSysenterEIP.descriptor, guestSCET.descriptor, guestSSP.descriptor,
        guestInterruptSSPTableAddress.descriptor, hostCR0.descriptor, hostCR3.descriptor,
        hostCR4.descriptor, hostFSBase.descriptor, hostGSBase.descriptor,
        hostTRBase.descriptor, hostGDTRBase.descriptor, hostIDTRBase.descriptor,
        hostSysenterESP.descriptor, hostSysenterEIP.descriptor, hostRSP.descriptor,
        hostRIP.descriptor, hostSCET.descriptor, hostSSP.descriptor,
        hostInterruptSSPTableAddress.descriptor,
    ]
}
