// SVMCore: AMD-V (SVM) capability logic and the VMCB, with no instructions
// of its own: the AMD counterpart of VMXCore, side by side with it.
//
// Like VMXCore, the module decides and the bare-metal program executes: it
// reads CPUID and MSRs through VMXCore's `CPUIDAccess` and `MSRAccess` (the
// architectural registers CR0, CR4, EFER, RFLAGS and MSR numbers are shared
// with VMXCore), and turns them into the vendor choice, typed capabilities,
// the VMCB layout and the pre-VMRUN consistency checks. It compiles hosted
// and in Embedded Swift.
//
// References follow the AMD64 Architecture Programmer's Manual Volume 2:
// System Programming (publication 24593, rev. 3.42), in the form
// `AMD APM Vol. 2, "Title" (section in rev. 3.42)`: the title is the anchor,
// section numbers move between revisions.
//
// - `SVMSupport.swift`: `CPUVendor` (CPUID leaf 0), `VMCR`, and
//   `VirtualizationBackend.choose(cpuid:msrs:)`, which picks VT-x or AMD-V
//   or throws `BackendUnavailable` with a one-line reason.
// - `SVMCapabilities.swift` (+ `Report`): CPUID 8000000Ah (revision, ASIDs,
//   `SVMFeatures`), 80000008h (address widths), VM_CR; the bring-up lines.
// - Exit decoding lives in VMExit (`SVMExitCode`, `SVMExit`,
//   `ExitEvent.fromSVM`, `SVMNextRIP`), beside the VMX decoder.
