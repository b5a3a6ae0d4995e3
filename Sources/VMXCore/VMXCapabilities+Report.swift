import Primitives

extension VMXCapabilities {
    /// The lines the hypervisor prints at bring-up, one call of `line` each
    /// (each to follow "pxhv: "): a decoded summary, then every MSR read as
    /// `vmx: msr 0x480=0x...` (16 hex digits), the form fixtures are made from.
    public func report(_ line: (Message) -> Void) {
        line("vmx: revision \(hex: basic.revisionID) vmcs-size \(basic.regionSize) memory-type \(basic.memoryType.abbreviation) true-controls \(yesNo(hasTrueControls)) 32-bit-addresses \(yesNo(basic.limitsAddressesTo32Bits))")
        line("vmx: feature-control \(hex: featureControl.rawValue) locked \(yesNo(featureControl.isLocked)) vmx-outside-smx \(yesNo(featureControl.contains(.vmxOutsideSMX)))")

        var ept: Message = "vmx: ept \(yesNo(supportsEPT))"
        if supportsEPT {
            var invept = NameList()
            invept.add("single", if: eptVPID.supportsSingleContextINVEPT)
            invept.add("all", if: eptVPID.supportsAllContextINVEPT)
            let walk: StaticString = eptVPID.supportsPageWalkLength4 ? "4-level" : "no-4-level"
            let type: StaticString = eptVPID.supportsWriteBack ? "WB" : (eptVPID.supportsUncacheable ? "UC" : "no-type")
            ept.append(" (\(walk), \(type), 2M \(yesNo(eptVPID.supports2MiBPages)), 1G \(yesNo(eptVPID.supports1GiBPages)), A/D \(yesNo(eptVPID.supportsAccessedDirtyFlags)), execute-only \(yesNo(eptVPID.supportsExecuteOnly)), invept \(invept.text(if: eptVPID.supportsINVEPT)))")
        }
        ept.append(" vpid \(yesNo(supportsVPID))")
        if supportsVPID {
            var invvpid = NameList()
            invvpid.add("address", if: eptVPID.supportsIndividualAddressINVVPID)
            invvpid.add("single", if: eptVPID.supportsSingleContextINVVPID)
            invvpid.add("all", if: eptVPID.supportsAllContextINVVPID)
            invvpid.add("single-globals", if: eptVPID.supportsSingleContextRetainingGlobalsINVVPID)
            ept.append(" (invvpid \(invvpid.text(if: eptVPID.supportsINVVPID)))")
        }
        ept.append(" unrestricted-guest \(yesNo(supportsUnrestrictedGuest))")
        line(ept)

        let secondary = secondaryProcessorBased
        line("vmx: guest-instructions rdtscp \(yesNo(secondary.allows(.enableRDTSCP))) invpcid \(yesNo(secondary.allows(.enableINVPCID))) xsaves \(yesNo(secondary.allows(.enableXSAVES)))")

        var timer: Message = "vmx: preemption-timer \(yesNo(supportsPreemptionTimer))"
        if supportsPreemptionTimer { timer.append(" (rate 2^\(miscellaneous.preemptionTimerRate))") }
        line(timer)

        var states = NameList()
        states.add("hlt", if: miscellaneous.activityStates.contains(.hlt))
        states.add("shutdown", if: miscellaneous.activityStates.contains(.shutdown))
        states.add("wait-for-sipi", if: miscellaneous.activityStates.contains(.waitForSIPI))
        var misc: Message = "vmx: activity-states \(states.text(if: true)) cr3-targets \(miscellaneous.cr3TargetCount) msr-list-max \(miscellaneous.maximumMSRListCount) vmfunc "
        if supportsVMFunctions { misc.append(hex: vmFunctions.rawValue) } else { misc.append("no") }
        line(misc)

        line("vmx: cr0 fixed0=\(hex: cr0Fixed.fixed0) fixed1=\(hex: cr0Fixed.fixed1) cr4 fixed0=\(hex: cr4Fixed.fixed0) fixed1=\(hex: cr4Fixed.fixed1)")

        readings.withElements { readings in
            for reading in readings {
                line("vmx: msr \(hex: reading.msr.rawValue)=\(hex: reading.value, digits: 16)")
            }
        }
    }
}

private func yesNo(_ value: Bool) -> StaticString { value ? "yes" : "no" }

/// Names joined by "+" ("single+all"), "none" when there are none.
private struct NameList {
    private var names = Message()

    mutating func add(_ name: StaticString, if present: Bool) {
        guard present else { return }
        if names.count != 0 { names.append("+") }
        names.append(name)
    }

    /// The list when `supported`, else "no".
    func text(if supported: Bool) -> Message {
        supported ? (names.count == 0 ? "none" : names) : "no"
    }
}
