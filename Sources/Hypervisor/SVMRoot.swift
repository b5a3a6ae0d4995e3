import EPT
import Primitives
import SVMCore
import VMXCore
import X86

/// AMD-V on this CPU: EFER.SVME set, the host save area named in
/// VM_HSAVE_PA, and the page the VMRUN stub saves the host's VMSAVE state
/// into (`x86_svm_run`). `VirtualizationBackend.choose` has already checked
/// CPUID, VM_CR.SVMDIS and nested paging.
///
/// AMD APM Vol. 2, "Enabling SVM" (15.4 in rev. 3.42): EFER.SVME = 1 makes
/// VMRUN, VMLOAD, VMSAVE, CLGI, STGI, VMMCALL, INVLPGA and SKINIT legal;
/// "VM_HSAVE_PA MSR" (15.30.4): VMRUN saves the host state in the 4 KiB
/// page it names.
struct SVMRoot {
    let capabilities: SVMCapabilities
    let hostSaveArea: UInt64
    let hostState: UInt64

    static func enter(allocator: inout FrameAllocator, memory: IdentityMemory) -> SVMRoot {
        var msrs = HardwareMSRs()
        let capabilities = SVMCapabilities.read(cpuid: HardwareCPUID(), msrs: msrs)
        guard let hostSaveArea = allocator.allocatePage(), let hostState = allocator.allocatePage() else {
            fatal("svm: no pages for the host save area")
        }
        memory.pointer(hostSaveArea).initializeMemory(as: UInt8.self, repeating: 0, count: Int(Page.size))
        memory.pointer(hostState).initializeMemory(as: UInt8.self, repeating: 0, count: Int(Page.size))
        let efer = msrs.read(.efer) | EFER.svme.rawValue
        msrs.write(.efer, efer)
        msrs.write(.vmHostSaveAreaPA, hostSaveArea)
        // CR4.OSXSAVE lets the host execute XSETBV on a guest's behalf, as
        // under VT-x; the host itself uses no x87/SSE/AVX state.
        if CPUIDFeaturesECX(rawValue: HardwareCPUID().cpuid(leaf: 1).ecx).contains(.xsave) {
            x86_write_cr4(x86_read_cr4() | CR4.osxsave.rawValue)
        }
        // From here on the host runs with GIF = 0 (x86_clgi).
        x86_clgi()
        console.line("svm: EFER.SVME on (EFER \(hex: efer)), VM_HSAVE_PA \(hex: hostSaveArea), host VMSAVE area \(hex: hostState)")
        return SVMRoot(capabilities: capabilities, hostSaveArea: hostSaveArea, hostState: hostState)
    }

    /// The pre-VMRUN checker (AMD APM Vol. 2, "Canonicalization and
    /// Consistency Checks") with this CPU's physical-address width.
    func check(_ vmcb: VMCBPage) -> VMRUNCheckFailure? {
        VMRUNChecker.check(vmcb, physicalAddressWidth: Int(capabilities.physicalAddressBits))
    }

    /// EFER.SVME cleared, VM_HSAVE_PA 0: the CPU is as the firmware left it
    /// (GIF set again first: with SVME clear, STGI would #UD).
    func leave() {
        var msrs = HardwareMSRs()
        x86_stgi()
        msrs.write(.vmHostSaveAreaPA, 0)
        msrs.write(.efer, msrs.read(.efer) & ~EFER.svme.rawValue)
        console.line("svm: EFER.SVME off")
    }
}
