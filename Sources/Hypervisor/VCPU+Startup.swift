import Devices
import Primitives
import VMExit
import VMXCore
import X86

/// An application processor's vCPU: the requests other CPUs send it with
/// an NMI (a kick): stop, or the guest's INIT.
///
/// The hypervisor delivers a guest's INIT and STARTUP itself
/// (`LocalAPICTrap`, `StartupMailbox`): an AP waits for STARTUP in VMX
/// root (`APGuest.waitForStartup`), never in the wait-for-SIPI activity
/// state, and a STARTUP starts a fresh vCPU in real mode at the vector
/// (`VMCSGuestState.afterINIT(...).startingAt(_:)`). An INIT for a
/// running vCPU is a mailbox word and a kick; at the NMI the exit loop
/// finds it here and leaves the guest.
extension VCPU {
    /// CPUID leaf 1 EAX: what EDX holds after INIT (family, model,
    /// stepping; Intel SDM Vol. 3A, "Processor State After Reset" / EDX).
    static var processorSignature: UInt64 { UInt64(x86_cpuid(1, 0).eax) }

    /// This CPU's stop request (its per-CPU block), as the stop reason.
    /// Static: a call on `self` from the exit loop copied the whole vCPU.
    @inline(never)
    static func requestedStop() -> StopReason? {
        let request = x86_stop_request()
        return request == 0 ? nil : .stopRequested(byCPU: request - 1)
    }

    /// An INIT another vCPU posted for this one (taken from the mailbox:
    /// the vCPU no longer runs), as `initSignal`. Never on the boot CPU,
    /// whose mailbox nobody posts to.
    @inline(never)
    static func requestedINIT() -> StopReason? {
        guard StartupMailbox(rawValue: x86_startup_mailbox()).hasINIT else { return nil }
        let state = x86_this_cpu()!
        while true {
            let old = x86_load_acquire64(&state.pointee.startup_mailbox)
            guard let next = StartupMailbox(rawValue: old).takingINIT() else { return nil }
            if x86_compare_exchange64(&state.pointee.startup_mailbox, old, next.rawValue) { return .initSignal }
        }
    }
}
