// VMXCore: Intel VT-x capability logic, with no instructions of its own.
//
// The module decides; the bare-metal program executes. It reads the VMX
// capability MSRs through `MSRAccess` and CPUID through `CPUIDAccess`
// (implemented over inline asm in `Hypervisor/`, by fakes in tests), and
// turns them into typed capabilities, adjusted control words, CR0/CR4 values
// that satisfy the fixed bits, VMXON/VMCS region layouts, and decoded
// VM-instruction results. It compiles hosted and in Embedded Swift, so it is
// generic over its protocols (no `any P`) and throws `VMXError` (typed).
//
// SDM references follow the Intel 64 and IA-32 Architectures Software
// Developer's Manual, rev. 84, in the form
// `Intel SDM Vol. 3C, "Title" (section in rev. 84)`: the title is the anchor,
// section numbers move between revisions.
//
// Files by concern:
//   MSR.swift, HardwareAccess.swift       the seam to the hardware (protocols)
//   CPUID+VMX.swift, FeatureControl.swift enabling VMX
//   VMXBasic.swift, VMXMiscellaneous.swift, EPTVPIDCapabilities.swift,
//   VMCSEnumeration.swift, VMFunctions.swift, MemoryType.swift
//                                         one capability MSR (or encoding) each
//   ControlCapability.swift, *Controls.swift   control words and adjustment
//   ControlRegisters.swift, CRFixedBits.swift  CR0/CR4 and the fixed bits
//   VMXCapabilities.swift, VMXCapabilities+Report.swift  one-pass read, report
//   VMXRegion.swift                       VMXON and VMCS regions
//   RFLAGS.swift, VMXInstructionStatus.swift, VMInstructionError.swift,
//   VMXError.swift                        outcomes of VMX instructions
//   VMCSField.swift, VMCS+Fields.swift, VMCSAccess.swift
//                                         the field catalogue and the VMREAD/VMWRITE seam
//   VMCSControls.swift, VMCSHostState.swift, VMCSGuestState*.swift,
//   SegmentAccessRights.swift, EFER.swift, VMCSWriter.swift
//                                         what pxHV writes into a VMCS
//   VMEntryCheck*.swift, VMEntryChecker*.swift  the pre-launch checker (its texts: VMEntryCheck+Texts.swift)
//   Message+Template.swift, NameTable.swift    diagnostics: VMXCore's template placeholders, name tables
//
// Every diagnostic (errors' `message`, the checker's failures, the
// capability report) is a `Message` (Primitives) rendered from a static
// template and a few integers (`Message(template:...)`, Primitives), and every name
// (MSRs, control bits, VM-instruction errors) comes from a static table:
// no `String`, and little code per line of text.
