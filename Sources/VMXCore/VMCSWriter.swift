/// Writes a whole VMCS: controls, host state, guest state (with the VMCS
/// link pointer). The VMCS must be current (VMCLEAR, then VMPTRLD); run
/// `VMEntryChecker.check` first, then VMLAUNCH.
///
/// Guest and host IA32_PAT/IA32_EFER are written only when the entry/exit
/// controls load them.
public func writeVMCS<V: VMCSAccess>(
    _ vmcs: inout V, controls: VMCSControls, host: VMCSHostState, guest: VMCSGuestState
) throws(VMXError) {
    try controls.write(to: &vmcs)
    try host.write(to: &vmcs, exitControls: controls.vmExit)
    try guest.write(to: &vmcs, entryControls: controls.vmEntry)
}
