extension VMXCapabilities {
    /// The lines the hypervisor prints at bring-up (each to follow "pxhv: "):
    /// a decoded summary, then every MSR read as `vmx: msr 0x480=0x...`
    /// (16 hex digits), the form fixtures are made from.
    public func reportLines() -> [String] {
        var lines: [String] = []
        lines.append(
            "vmx: revision \(hex(basic.revisionID)) vmcs-size \(basic.regionSize) "
                + "memory-type \(basic.memoryType.abbreviation) true-controls \(yesNo(hasTrueControls)) "
                + "32-bit-addresses \(yesNo(basic.limitsAddressesTo32Bits))")
        lines.append(
            "vmx: feature-control \(hex(featureControl.rawValue)) locked \(yesNo(featureControl.isLocked)) "
                + "vmx-outside-smx \(yesNo(featureControl.contains(.vmxOutsideSMX)))")

        var ept = "vmx: ept \(yesNo(supportsEPT))"
        if supportsEPT {
            let walk = eptVPID.supportsPageWalkLength4 ? "4-level" : "no-4-level"
            let type = eptVPID.supportsWriteBack ? "WB" : (eptVPID.supportsUncacheable ? "UC" : "no-type")
            var invept: [String] = []
            if eptVPID.supportsSingleContextINVEPT { invept.append("single") }
            if eptVPID.supportsAllContextINVEPT { invept.append("all") }
            ept += " (\(walk), \(type), 2M \(yesNo(eptVPID.supports2MiBPages)), "
                + "1G \(yesNo(eptVPID.supports1GiBPages)), A/D \(yesNo(eptVPID.supportsAccessedDirtyFlags)), "
                + "execute-only \(yesNo(eptVPID.supportsExecuteOnly)), "
                + "invept \(eptVPID.supportsINVEPT ? joined(invept) : "no"))"
        }
        ept += " vpid \(yesNo(supportsVPID))"
        if supportsVPID {
            var invvpid: [String] = []
            if eptVPID.supportsIndividualAddressINVVPID { invvpid.append("address") }
            if eptVPID.supportsSingleContextINVVPID { invvpid.append("single") }
            if eptVPID.supportsAllContextINVVPID { invvpid.append("all") }
            if eptVPID.supportsSingleContextRetainingGlobalsINVVPID { invvpid.append("single-globals") }
            ept += " (invvpid \(eptVPID.supportsINVVPID ? joined(invvpid) : "no"))"
        }
        ept += " unrestricted-guest \(yesNo(supportsUnrestrictedGuest))"
        lines.append(ept)

        let secondary = secondaryProcessorBased
        lines.append(
            "vmx: guest-instructions rdtscp \(yesNo(secondary.allows(.enableRDTSCP))) "
                + "invpcid \(yesNo(secondary.allows(.enableINVPCID))) "
                + "xsaves \(yesNo(secondary.allows(.enableXSAVES)))")

        var timer = "vmx: preemption-timer \(yesNo(supportsPreemptionTimer))"
        if supportsPreemptionTimer { timer += " (rate 2^\(miscellaneous.preemptionTimerRate))" }
        lines.append(timer)

        var states: [String] = []
        if miscellaneous.activityStates.contains(.hlt) { states.append("hlt") }
        if miscellaneous.activityStates.contains(.shutdown) { states.append("shutdown") }
        if miscellaneous.activityStates.contains(.waitForSIPI) { states.append("wait-for-sipi") }
        lines.append(
            "vmx: activity-states \(states.isEmpty ? "none" : joined(states)) "
                + "cr3-targets \(miscellaneous.cr3TargetCount) msr-list-max \(miscellaneous.maximumMSRListCount) "
                + "vmfunc \(supportsVMFunctions ? hex(vmFunctions.rawValue) : "no")")

        lines.append(
            "vmx: cr0 fixed0=\(hex(cr0Fixed.fixed0)) fixed1=\(hex(cr0Fixed.fixed1)) "
                + "cr4 fixed0=\(hex(cr4Fixed.fixed0)) fixed1=\(hex(cr4Fixed.fixed1))")

        for reading in readings {
            lines.append("vmx: msr \(hex(reading.msr.rawValue))=\(hex(reading.value, digits: 16))")
        }
        return lines
    }
}

private func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }

private func joined(_ parts: [String]) -> String {
    var text = ""
    for part in parts {
        if !text.isEmpty { text += "+" }
        text += part
    }
    return text.isEmpty ? "none" : text
}
