import EPT
import Primitives
import VMXCore
import X86

/// VMX root operation on this CPU: entered by `enter`, left by `leave`.
///
/// Intel SDM Vol. 3C, "Enabling and Entering VMX Operation" (24.7 in rev. 84):
/// CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL enabled and locked, CR0/CR4 within
/// the FIXED0/FIXED1 MSRs (CR4.VMXE among them), a 4 KiB-aligned VMXON region
/// that starts with the VMCS revision identifier, then VMXON.
struct VMXRoot {
    let capabilities: VMXCapabilities
    let vmxonRegion: UInt64

    static func enter(allocator: inout FrameAllocator, memory: IdentityMemory) throws(VMXError) -> VMXRoot {
        let capabilities = try prepare(report: true)
        let pages = (capabilities.vmxonRegion.size + 4095) / 4096
        guard let address = try? allocator.allocate(pages: pages) else {
            fatal("vmx: no free page for the VMXON region")
        }
        return try vmxon(capabilities, region: address, memory: memory)
    }

    /// The same steps on an application processor, with its VMXON region
    /// (allocated by the BSP). It must not touch the console or the
    /// allocator while the BSP runs, so it prints nothing.
    static func enter(vmxonRegion: UInt64, memory: IdentityMemory) throws(VMXError) -> VMXRoot {
        try vmxon(try prepare(report: false), region: vmxonRegion, memory: memory)
    }

    /// The capabilities, IA32_FEATURE_CONTROL enabled, CR0/CR4 within the
    /// fixed bits with CR4.VMXE. `report` prints the IA32_FEATURE_CONTROL
    /// line (the BSP does).
    /// (Two functions, not one taking the VMXON region from a closure: the
    /// compiler copied such a function once per closure.)
    private static func prepare(report: Bool) throws(VMXError) -> VMXCapabilities {
        var msrs = HardwareMSRs()
        let capabilities = try VMXCapabilities.read(msrs, cpuid: HardwareCPUID())
        switch try enableVMXInFeatureControl(&msrs) {
        case .alreadyEnabled:
            if report { console.line("vmx: IA32_FEATURE_CONTROL already enabled and locked by firmware") }
        case .write(let value):
            if report { console.line("vmx: IA32_FEATURE_CONTROL was unlocked: wrote \(hex: value.rawValue) (VMX outside SMX, lock)") }
        }

        // CR4.OSXSAVE lets the host execute XSETBV on a guest's behalf; the
        // host itself uses no x87/SSE/AVX state.
        var wanted = x86_read_cr4() | CR4.vmxe.rawValue
        if CPUIDFeaturesECX(rawValue: HardwareCPUID().cpuid(leaf: 1).ecx).contains(.xsave) {
            wanted |= CR4.osxsave.rawValue
        }
        let cr0 = capabilities.cr0Fixed.apply(x86_read_cr0())
        let cr4 = capabilities.cr4Fixed.apply(wanted)
        try capabilities.cr0Fixed.check(cr0, register: .cr0)
        try capabilities.cr4Fixed.check(cr4, register: .cr4)
        x86_write_cr0(cr0)
        x86_write_cr4(cr4)
        return capabilities
    }

    /// VMXON with the region at `address` (validated and initialized first).
    private static func vmxon(
        _ capabilities: VMXCapabilities, region address: UInt64, memory: IdentityMemory
    ) throws(VMXError) -> VMXRoot {
        let region = capabilities.vmxonRegion
        try region.validate(address: address)
        region.initialize(memory.pointer(address))

        let status = VMXInstructionStatus(rflags: RFLAGS(rawValue: x86_vmxon(address)))
        try status.check(instructionError: readInstructionError)
        return VMXRoot(capabilities: capabilities, vmxonRegion: address)
    }

    /// VMXOFF and CR4.VMXE cleared: the CPU is as the firmware left it.
    func leave() throws(VMXError) {
        try VMXInstructionStatus(rflags: RFLAGS(rawValue: x86_vmxoff())).check(instructionError: readInstructionError)
        x86_write_cr4(x86_read_cr4() & ~CR4.vmxe.rawValue)
    }
}

/// The VM-instruction error field (valid only after VMfailValid).
private func readInstructionError() -> UInt32 {
    var value: UInt64 = 0
    _ = x86_vmread(UInt64(VMCS.vmInstructionError.encoding), &value)
    return UInt32(truncatingIfNeeded: value)
}
