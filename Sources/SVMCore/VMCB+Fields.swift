/// The VMCB field catalogue: the control area (bytes 000h-3FFh) and the
/// state-save area (from 400h), typed by width.
///
/// Offsets are from the start of the VMCB. The control area's 64-bit words
/// that pack several fields are split where the parts have their own
/// width (ASID is bits 31:0 of 058h, TLB_CONTROL bits 39:32, so a byte at
/// 05Ch); the packed words whose bits are flags (060h V_TPR/V_IRQ/...,
/// 068h interrupt shadow, 090h NP_ENABLE, 0B8h LBR virtualization) are one
/// `UInt64` each, read through their OptionSets. The names are the APM's.
/// The tests check every offset and width against the APM's tables
/// (Tests/SVMCoreTests/VMCBLayoutTests.swift) and that no two overlap.
///
/// Cross-checked against Linux's `struct vmcb_control_area` and
/// `struct vmcb_save_area` (arch/x86/include/asm/svm.h).
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42) and
/// "VMCB Layout, State Save Area" (Table B-2 in rev. 3.42).
public enum VMCB {
    /// The size of a VMCB: one 4 KiB page.
    public static let size = 4096
    /// Where the state-save area starts.
    public static let stateSaveAreaOffset = 0x400

    // MARK: Control area
    // AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42)
    public static let interceptCRReads = VMCBField<UInt16>(0x000, "Intercept reads of CR0-15")
    public static let interceptCRWrites = VMCBField<UInt16>(0x002, "Intercept writes of CR0-15")
    public static let interceptDRReads = VMCBField<UInt16>(0x004, "Intercept reads of DR0-15")
    public static let interceptDRWrites = VMCBField<UInt16>(0x006, "Intercept writes of DR0-15")
    public static let interceptExceptions = VMCBField<UInt32>(0x008, "Intercept exception vectors 0-31")
    public static let interceptVector3 = VMCBField<UInt32>(0x00C, "Intercept vector 3 (INTR ... SHUTDOWN)")
    public static let interceptVector4 = VMCBField<UInt32>(0x010, "Intercept vector 4 (VMRUN ... CR0-15 write traps)")
    public static let interceptVector5 = VMCBField<UInt32>(0x014, "Intercept vector 5 (INVLPGB ...)")
    public static let pauseFilterThreshold = VMCBField<UInt16>(0x03C, "PAUSE filter threshold")
    public static let pauseFilterCount = VMCBField<UInt16>(0x03E, "PAUSE filter count")
    public static let iopmBasePA = VMCBField<UInt64>(0x040, "IOPM_BASE_PA")
    public static let msrpmBasePA = VMCBField<UInt64>(0x048, "MSRPM_BASE_PA")
    public static let tscOffset = VMCBField<UInt64>(0x050, "TSC_OFFSET")
    public static let guestASID = VMCBField<UInt32>(0x058, "Guest ASID")
    public static let tlbControl = VMCBField<UInt8>(0x05C, "TLB_CONTROL")
    public static let virtualInterrupt = VMCBField<UInt64>(0x060, "V_TPR, V_IRQ, VGIF, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, AVIC_ENABLE, V_INTR_VECTOR")
    public static let interruptShadow = VMCBField<UInt64>(0x068, "INTERRUPT_SHADOW, GUEST_INTERRUPT_MASK")
    public static let exitCode = VMCBField<UInt64>(0x070, "EXITCODE")
    public static let exitInfo1 = VMCBField<UInt64>(0x078, "EXITINFO1")
    public static let exitInfo2 = VMCBField<UInt64>(0x080, "EXITINFO2")
    public static let exitInterruptInfo = VMCBField<UInt64>(0x088, "EXITINTINFO")
    public static let nestedPagingControl = VMCBField<UInt64>(0x090, "NP_ENABLE, SEV, SEV-ES, GMET, ...")
    public static let avicAPICBar = VMCBField<UInt64>(0x098, "AVIC_APIC_BAR")
    public static let ghcbPA = VMCBField<UInt64>(0x0A0, "Guest physical address of GHCB")
    public static let eventInjection = VMCBField<UInt64>(0x0A8, "EVENTINJ")
    public static let nestedCR3 = VMCBField<UInt64>(0x0B0, "N_CR3")
    public static let virtualizationExtensions = VMCBField<UInt64>(0x0B8, "LBR_VIRTUALIZATION_ENABLE, virtualized VMSAVE/VMLOAD, ...")
    public static let cleanBits = VMCBField<UInt32>(0x0C0, "VMCB clean bits")
    public static let nextRIP = VMCBField<UInt64>(0x0C8, "nRIP")
    public static let bytesFetched = VMCBField<UInt8>(0x0D0, "Number of bytes fetched")
    public static let avicBackingPage = VMCBField<UInt64>(0x0E0, "AVIC_APIC_BACKING_PAGE pointer")
    public static let avicLogicalTable = VMCBField<UInt64>(0x0F0, "AVIC_LOGICAL_TABLE pointer")
    public static let avicPhysicalTable = VMCBField<UInt64>(0x0F8, "AVIC_PHYSICAL_TABLE pointer, AVIC_PHYSICAL_MAX_INDEX")
    public static let vmsaPointer = VMCBField<UInt64>(0x108, "VMSA pointer")

    /// Where the guest instruction bytes start (0D1h-0DFh): up to 15 bytes
    /// of the intercepted instruction, `bytesFetched` of them valid
    /// (decode assists).
    public static let guestInstructionBytesOffset = 0x0D1
    /// The room for guest instruction bytes.
    public static let guestInstructionBytesCount = 15

    /// Guest instruction byte `index` (0..<15).
    public static func guestInstructionByte(_ index: Int) -> VMCBField<UInt8> {
        precondition(index >= 0 && index < guestInstructionBytesCount, "guest instruction byte index out of range")
        return VMCBField(guestInstructionBytesOffset + index, "Guest instruction bytes")
    }

    // MARK: State-save area
    // AMD APM Vol. 2, "VMCB Layout, State Save Area" (Table B-2 in rev. 3.42);
    // the APM's offsets are these minus 400h.
    public static let es = VMCBSegmentField(0x400, "ES")
    public static let cs = VMCBSegmentField(0x410, "CS")
    public static let ss = VMCBSegmentField(0x420, "SS")
    public static let ds = VMCBSegmentField(0x430, "DS")
    public static let fs = VMCBSegmentField(0x440, "FS")
    public static let gs = VMCBSegmentField(0x450, "GS")
    public static let gdtr = VMCBSegmentField(0x460, "GDTR")
    public static let ldtr = VMCBSegmentField(0x470, "LDTR")
    public static let idtr = VMCBSegmentField(0x480, "IDTR")
    public static let tr = VMCBSegmentField(0x490, "TR")
    public static let cpl = VMCBField<UInt8>(0x4CB, "CPL")
    public static let efer = VMCBField<UInt64>(0x4D0, "EFER")
    public static let cr4 = VMCBField<UInt64>(0x548, "CR4")
    public static let cr3 = VMCBField<UInt64>(0x550, "CR3")
    public static let cr0 = VMCBField<UInt64>(0x558, "CR0")
    public static let dr7 = VMCBField<UInt64>(0x560, "DR7")
    public static let dr6 = VMCBField<UInt64>(0x568, "DR6")
    public static let rflags = VMCBField<UInt64>(0x570, "RFLAGS")
    public static let rip = VMCBField<UInt64>(0x578, "RIP")
    public static let rsp = VMCBField<UInt64>(0x5D8, "RSP")
    public static let rax = VMCBField<UInt64>(0x5F8, "RAX")
    public static let star = VMCBField<UInt64>(0x600, "STAR")
    public static let lstar = VMCBField<UInt64>(0x608, "LSTAR")
    public static let cstar = VMCBField<UInt64>(0x610, "CSTAR")
    public static let sfmask = VMCBField<UInt64>(0x618, "SFMASK")
    public static let kernelGSBase = VMCBField<UInt64>(0x620, "KernelGsBase")
    public static let sysenterCS = VMCBField<UInt64>(0x628, "SYSENTER_CS")
    public static let sysenterESP = VMCBField<UInt64>(0x630, "SYSENTER_ESP")
    public static let sysenterEIP = VMCBField<UInt64>(0x638, "SYSENTER_EIP")
    public static let cr2 = VMCBField<UInt64>(0x640, "CR2")
    public static let gPAT = VMCBField<UInt64>(0x668, "G_PAT")
    public static let debugControl = VMCBField<UInt64>(0x670, "DBGCTL")
    public static let branchFrom = VMCBField<UInt64>(0x678, "BR_FROM")
    public static let branchTo = VMCBField<UInt64>(0x680, "BR_TO")
    public static let lastExceptionFrom = VMCBField<UInt64>(0x688, "LASTEXCPFROM")
    public static let lastExceptionTo = VMCBField<UInt64>(0x690, "LASTEXCPTO")
}
