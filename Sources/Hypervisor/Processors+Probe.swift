import Devices
import EPT
import Primitives
import SVMCore
import VMExit
import X86

/// The APs as the boot CPU probes them (`ProcessorProbe`): the phase word,
/// the NMI count of pxHV's handler, and, for a vCPU, what its exit loop
/// counts, all in the AP's state page and its vCPU context (pool pages no
/// guest reaches).
extension Processors.ApplicationProcessor: ProbedProcessor {
    var standing: ProcessorStanding {
        switch phase {
        case .parked: .parked
        case .vcpu: .vcpu(nestedRoot: vcpuNestedTablesRoot)
        default: .elsewhere
        }
    }

    /// Under AMD-V the INIT exits of the AP's park guest count too: an INIT
    /// that reached the AP another way than the trapped ICR (the I/O APIC)
    /// stays latched while GIF is clear, and the park guest exits on it at
    /// every VMRUN, contained, taking no NMI.
    var handledNMIs: UInt64 {
        hypervisorBackend == .svm ? nmiCount &+ x86_load_acquire64(&state.pointee.init_exits) : nmiCount
    }
    var vcpuNMIExits: UInt64 { vcpuExits(.exceptionOrNMI) ?? 0 }

    // Both leave the ICR's destination as it was: the probe runs at a
    // hostile guest's hypercall 7, maybe between its two ICR writes.
    func sendNMI() { LocalAPIC.current().sendKeepingDestination(.nmi, to: apicID) }
    func kick() { LocalAPIC.current().kick(state, apicID: apicID) }
    func pause() { x86_pause() }

    /// The vCPU context the AP runs (or last ran), of the backend's kind
    /// (`APGuest.Context`, `SVMAPGuest.Context`), if any.
    private func vcpuContext<Context: APVCPUContext>(_: Context.Type) -> UnsafeMutablePointer<Context>? {
        UnsafeMutablePointer<Context>(bitPattern: UInt(state.pointee.vcpu_context))
    }

    /// The PML4 of the tables the AP's vCPU runs on (nil: it has none).
    var vcpuNestedTablesRoot: UInt64? {
        switch hypervisorBackend {
        case .vmx: vcpuContext(APGuest.Context.self)?.pointee.nestedTablesRoot
        case .svm: vcpuContext(SVMAPGuest.Context.self)?.pointee.nestedTablesRoot
        }
    }

    /// Exits of the AP's vCPU so far (nil: it has none): the total, or
    /// those of `reason`. Read while the AP may run (each counter is an
    /// aligned 64-bit word that only grows); not on any exit path.
    func vcpuExits(_ reason: ExitReason? = nil) -> UInt64? {
        switch hypervisorBackend {
        case .vmx: exits(of: APGuest.Context.self, reason)
        case .svm: exits(of: SVMAPGuest.Context.self, reason)
        }
    }

    private func exits<Context: APVCPUContext>(of kind: Context.Type, _ reason: ExitReason?) -> UInt64? {
        guard let context = vcpuContext(kind) else { return nil }
        guard let reason else { return context.pointee.dispatcher.statistics.total }
        return context.pointee.dispatcher.statistics[reason]
    }
}

extension Processors {
    /// Probes every AP: each must be parked, or a vCPU of the guest on the
    /// nested page tables `guestRoot` (nil: none may be a vCPU), and answer
    /// (`ProcessorProbe`). Boot CPU only. `answer(index, answer)` sees each.
    @discardableResult
    static func probeAll(
        guestRoot: UInt64?, _ answer: (Int, ProcessorAnswer) -> Void = { _, _ in }
    ) -> (checked: Int, failed: Int) {
        var failed = 0
        for (index, ap) in started.enumerated() {
            var processor = ap
            let result = ProcessorProbe.probe(&processor, guestRoot: guestRoot)
            if !result.isContained { failed += 1 }
            answer(index, result)
        }
        return (started.count, failed)
    }
}
