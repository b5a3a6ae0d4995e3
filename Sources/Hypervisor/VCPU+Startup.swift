import Primitives
import VMExit
import VMXCore
import X86

/// An application processor's vCPU: INIT and start-up IPIs, and the stop
/// requests one CPU sends another.
///
/// Intel SDM Vol. 3C, "INIT Signal" and "Startup IPI" in "VMX Non-Root
/// Operation": INIT is a VM exit (basic reason 3) in the active and HLT
/// states and blocked in wait-for-SIPI; a SIPI is a VM exit (reason 4,
/// qualification = vector) only in wait-for-SIPI and discarded otherwise.
/// So the hypervisor does what the processor would: INIT resets the vCPU
/// to the INIT state and waits for a SIPI, a SIPI starts it at the vector.
extension VCPU {
    /// CPUID leaf 1 EAX: what EDX holds after INIT (family, model,
    /// stepping; Intel SDM Vol. 3A, "Processor State After Reset" / EDX).
    static var processorSignature: UInt64 { UInt64(x86_cpuid(1, 0).eax) }

    /// The vCPU as INIT leaves it: the INIT state (`afterINIT`, keeping the
    /// guest's CR0.CD/NW and IA32_PAT), 64-bit guest off, the general
    /// registers 0 but EDX = the signature, no NMI owed or window open, no
    /// event to inject; activity wait-for-SIPI. Nil, or the stop when the
    /// VMCS refused the state (cannot happen: the checker passed the same
    /// state at the vCPU's start).
    ///
    /// An INIT exit at the very point a SIPI started the vCPU, before its
    /// first instruction, is the INIT the guest sent before that SIPI: the
    /// wait-for-SIPI state blocks INIT and holds it pending (Intel SDM
    /// Vol. 3C, "Activity State"), so it arrives after the SIPI. On bare
    /// metal INIT then SIPI leaves the CPU running at the vector: so does
    /// this (once per SIPI; a second INIT exit resets as any other).
    mutating func resetToINITState() -> StopReason? {
        if let sipi = startedBy {
            startedBy = nil
            if vmcs.read(VMCS.guestRIP) == sipi.instructionPointer && vmcs.read(VMCS.guestCSSelector) == UInt64(sipi.codeSelector) {
                vmcs.set(VMCS.guestInterruptibilityState, 0)
                return nil
            }
        }
        let entry = VMEntryControls(rawValue: UInt32(truncatingIfNeeded: vmcs.read(VMCS.vmEntryControls)))
            .subtracting(.ia32eModeGuest)
        let state = VMCSGuestState.afterINIT(
            keepingCacheControlOf: CR0(rawValue: vmcs.read(VMCS.guestCR0)),
            pat: entry.contains(.loadPAT) ? vmcs.read(VMCS.guestPAT) : VMCSGuestState.defaultPAT
        ).applyingFixedBits(capabilities, unrestrictedGuest: true)
        do {
            try state.write(to: &vmcs, entryControls: entry)
        } catch {
            console.error("vmx: the INIT state was refused: \(error.message)")
            return .entryFailure(reason: UInt32(ExitReason.initSignal.rawValue), qualification: 0)
        }
        vmcs.set(VMCS.vmEntryControls, entry.rawValue)
        vmcs.set(VMCS.cr0ReadShadow, state.cr0.rawValue)
        vmcs.set(VMCS.cr4ReadShadow, 0)
        vmcs.set(VMCS.vmEntryInterruptionInformation, 0)
        registers = GuestRegisters()
        registers.rdx = Self.processorSignature
        pendingNMIs = 0
        if primaryControls.contains(.nmiWindowExiting) {
            primaryControls.remove(.nmiWindowExiting)
            vmcs.set(VMCS.primaryProcessorBasedControls, primaryControls.rawValue)
        }
        waitingForSIPI = true
        return nil
    }

    /// A SIPI: first a stop request (the boot CPU stops a vCPU that waits
    /// for SIPI with one, since NMIs are blocked in that state); else CS =
    /// vector << 8, base vector << 12, IP 0, active. The rest is the INIT
    /// state the vCPU waited in.
    mutating func start(_ sipi: StartupIPI) -> StopReason? {
        if let stop = requestedStop() { return stop }
        vmcs.set(VMCS.guestCSSelector, sipi.codeSelector)
        vmcs.set(VMCS.guestCSBase, sipi.codeBase)
        vmcs.set(VMCS.guestRIP, sipi.instructionPointer)
        vmcs.set(VMCS.guestActivityState, GuestActivityState.active.rawValue)
        // The wait-for-SIPI state blocks SMIs and NMIs, and the SIPI exit
        // saves that blocking (Bochs sets "blocking by SMI"); an active CPU
        // out of SIPI has none, and VM entry refuses SMI blocking outside
        // SMM (Intel SDM Vol. 3C, "Checks on Guest Non-Register State").
        vmcs.set(VMCS.guestInterruptibilityState, 0)
        waitingForSIPI = false
        startedBy = sipi
        return nil
    }

    /// This CPU's stop request (its per-CPU block), as the stop reason.
    @inline(never)
    func requestedStop() -> StopReason? {
        let request = x86_stop_request()
        return request == 0 ? nil : .stopRequested(byCPU: request - 1)
    }
}
