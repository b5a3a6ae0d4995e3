import Primitives

extension VMXCapabilities {
    /// The lines the hypervisor prints at bring-up, one call of `line` each
    /// (each to follow "pxhv: "): a decoded summary, then every MSR read as
    /// `vmx: msr 0x480=0x...` (16 hex digits), the form fixtures are made from.
    public func report(_ line: (Message) -> Void) {
        var summary = Message(
            vmxTemplate: "vmx: revision {hex} vmcs-size {dec} memory-type {memory} true-controls {yes}",
            UInt64(basic.revisionID), UInt64(basic.regionSize), UInt64(basic.memoryType.rawValue), yes(hasTrueControls),
            name: "", controls: .pinBased)
        summary.append(template: " 32-bit-addresses {yes}", yes(basic.limitsAddressesTo32Bits))
        line(summary)
        line(Message(
            template: "vmx: feature-control {hex} locked {yes} vmx-outside-smx {yes}", featureControl.rawValue,
            yes(featureControl.isLocked), yes(featureControl.contains(.vmxOutsideSMX))))

        var ept = Message(template: "vmx: ept {yes}", yes(supportsEPT))
        if supportsEPT {
            let walk: StaticString = eptVPID.supportsPageWalkLength4 ? "4-level" : "no-4-level"
            ept.append(" (")
            ept.append(walk)
            ept.append(eptVPID.supportsWriteBack ? ", WB" : (eptVPID.supportsUncacheable ? ", UC" : ", no-type"))
            ept.append(
                template: ", 2M {yes}, 1G {yes}, A/D {yes}, execute-only {yes}, invept ", yes(eptVPID.supports2MiBPages),
                yes(eptVPID.supports1GiBPages), yes(eptVPID.supportsAccessedDirtyFlags), yes(eptVPID.supportsExecuteOnly))
            var invept = NameList()
            invept.add("single", if: eptVPID.supportsSingleContextINVEPT)
            invept.add("all", if: eptVPID.supportsAllContextINVEPT)
            invept.end(supported: eptVPID.supportsINVEPT, in: &ept)
            ept.append(")")
        }
        ept.append(template: " vpid {yes}", yes(supportsVPID))
        if supportsVPID {
            ept.append(" (invvpid ")
            var invvpid = NameList()
            invvpid.add("address", if: eptVPID.supportsIndividualAddressINVVPID)
            invvpid.add("single", if: eptVPID.supportsSingleContextINVVPID)
            invvpid.add("all", if: eptVPID.supportsAllContextINVVPID)
            invvpid.add("single-globals", if: eptVPID.supportsSingleContextRetainingGlobalsINVVPID)
            invvpid.end(supported: eptVPID.supportsINVVPID, in: &ept)
            ept.append(")")
        }
        ept.append(template: " unrestricted-guest {yes}", yes(supportsUnrestrictedGuest))
        line(ept)

        let secondary = secondaryProcessorBased
        line(Message(
            template: "vmx: guest-instructions rdtscp {yes} invpcid {yes} xsaves {yes}", yes(secondary.allows(.enableRDTSCP)),
            yes(secondary.allows(.enableINVPCID)), yes(secondary.allows(.enableXSAVES))))

        var timer = Message(template: "vmx: preemption-timer {yes}", yes(supportsPreemptionTimer))
        if supportsPreemptionTimer { timer.append(template: " (rate 2^{dec})", UInt64(miscellaneous.preemptionTimerRate)) }
        line(timer)

        var misc: Message = "vmx: activity-states "
        var states = NameList()
        states.add("hlt", if: miscellaneous.activityStates.contains(.hlt))
        states.add("shutdown", if: miscellaneous.activityStates.contains(.shutdown))
        states.add("wait-for-sipi", if: miscellaneous.activityStates.contains(.waitForSIPI))
        states.end(supported: true, in: &misc)
        misc.append(
            template: supportsVMFunctions ? " cr3-targets {dec} msr-list-max {dec} vmfunc {hex}" : " cr3-targets {dec} msr-list-max {dec} vmfunc no",
            UInt64(miscellaneous.cr3TargetCount), UInt64(miscellaneous.maximumMSRListCount), vmFunctions.rawValue)
        line(misc)

        line(Message(
            template: "vmx: cr0 fixed0={hex} fixed1={hex} cr4 fixed0={hex} fixed1={hex}", cr0Fixed.fixed0, cr0Fixed.fixed1,
            cr4Fixed.fixed0, cr4Fixed.fixed1))

        readings.withElements { readings in
            for reading in readings {
                line(Message(template: "vmx: msr {hex}={hex16}", UInt64(reading.msr.rawValue), reading.value))
            }
        }
    }
}

/// Names joined by "+" ("single+all").
private struct NameList {
    private var names = Message()

    mutating func add(_ name: StaticString, if present: Bool) {
        guard present else { return }
        if names.count != 0 { names.append("+") }
        names.append(name)
    }

    /// Appends the list, "none" when it is empty, or "no" when the feature
    /// the list details is not `supported`.
    func end(supported: Bool, in text: inout Message) {
        if !supported {
            text.append("no")
        } else if names.count == 0 {
            text.append("none")
        } else {
            text.append(names)
        }
    }
}
