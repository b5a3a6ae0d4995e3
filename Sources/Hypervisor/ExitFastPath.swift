import Primitives
import VMExit
import VMXCore
import X86

/// The fast exit path's state: what `x86_vmx_fast_exit` works with, by
/// address. `VCPU.run` keeps one on its stack and hands its address to the
/// entry stub (`x86_vmx_enter`), which passes it on at every exit.
struct ExitFastPath {
    /// The exit loop's dispatcher (the one `VCPU.run` was given).
    let dispatcher: UnsafeMutablePointer<Dispatcher<CPUIDCache>>
    let memory: GuestRAMReference
    let checks: UnsafeMutablePointer<FixedCheckRecorder>
    /// False: every exit goes to the loop. The loop sets it before each
    /// entry; it is false before the first exit, while the hostile-guest
    /// harness has an attack open (it times each stretch of guest
    /// execution), and while an NMI is owed to the guest or the NMI window
    /// is open (`VCPU.deliverNMIs` decides at each entry).
    var isOpen = false
}

/// The fast exit handler: the exit stub calls it at every VM exit with the
/// guest's registers saved, before anything returns to `VCPU.run`.
///
/// It answers the frequent exits whose policy answer is `.advance` and
/// takes nothing out of line: CPUID, VMCALL, RDMSR and IN through the
/// dispatcher's `quick…` entries (counted, the same policy code the loop's
/// `Dispatcher.handle` runs, the hypercall CPL check first), then RIP +=
/// the instruction length, and returns 0: the stub reloads the registers
/// and VMRESUMEs at once. Every other exit, and every exit while the loop
/// keeps the path closed (`ExitFastPath.isOpen`), goes to the loop
/// untouched (`X86_VMX_EXIT`). An NMI taken in root operation meanwhile
/// sends a handled exit to the loop too (`X86_VMX_EXIT_HANDLED`: the loop's
/// before-entry work delivers it).
///
/// A leaf function on purpose: no call, so no callee-saved registers to
/// push and pop per exit. (Under Bochs, one tick per instruction: see
/// `VCPU.run` for the counts.)
@_cdecl("x86_vmx_fast_exit")
func handleExitFast(_ registerBlock: UnsafeMutableRawPointer, _ contextAddress: UnsafeMutableRawPointer) -> UInt64 {
    let context = contextAddress.assumingMemoryBound(to: ExitFastPath.self)
    guard context.pointee.isOpen else { return UInt64(X86_VMX_EXIT) }
    let registers = registerBlock.assumingMemoryBound(to: GuestRegisters.self)
    let dispatcher = context.pointee.dispatcher
    var vmcs = HardwareVMCS()
    let answered: Bool
    // The basic reason with no other bit of the field set (bit 31 would be
    // a failed entry: the loop's). CPUID and VMCALL first.
    let reason = vmcs.exitReason()
    if reason == UInt32(ExitReason.cpuid.rawValue) {
        answered = dispatcher.pointee.quickCPUID(
            leaf: UInt32(truncatingIfNeeded: registers.pointee.rax),
            subleaf: UInt32(truncatingIfNeeded: registers.pointee.rcx), registers: &registers.pointee, vcpu: vmcs)
    } else if reason == UInt32(ExitReason.vmcall.rawValue) {
        answered = dispatcher.pointee.quickVMCALL(registers: &registers.pointee, vcpu: vmcs)
    } else if reason == UInt32(ExitReason.rdmsr.rawValue) {
        answered = dispatcher.pointee.quickMSRRead(
            MSR(UInt32(truncatingIfNeeded: registers.pointee.rcx)), registers: &registers.pointee)
    } else if reason == UInt32(ExitReason.ioInstruction.rawValue) {
        let access = ExitEvent.portIO(.init(rawValue: vmcs.exitQualification()), registers: registers.pointee)
        answered = dispatcher.pointee.quickIO(access, registers: &registers.pointee)
    } else {
        answered = false
    }
    guard answered else { return UInt64(X86_VMX_EXIT) }
    vmcs.advanceRIP()
    if x86_root_nmis_pending() { return UInt64(X86_VMX_EXIT_HANDLED) }
    return 0
}
