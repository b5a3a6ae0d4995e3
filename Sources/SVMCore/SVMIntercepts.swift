import Primitives

/// Intercept vector 3 (VMCB 00Ch): the instruction and event intercepts
/// INTR ... SHUTDOWN, one bit each.
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42),
/// and "Instruction Intercepts" (15.9 in rev. 3.42).
public struct SVMInterceptVector3: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bit 0: physical INTR (external interrupt).
    public static let intr = Self(rawValue: 1 << 0)
    /// Bit 1: physical NMI.
    public static let nmi = Self(rawValue: 1 << 1)
    /// Bit 2: physical SMI.
    public static let smi = Self(rawValue: 1 << 2)
    /// Bit 3: physical INIT.
    public static let initSignal = Self(rawValue: 1 << 3)
    /// Bit 4: virtual interrupt (VINTR).
    public static let vintr = Self(rawValue: 1 << 4)
    /// Bit 5: CR0 writes that change bits other than CR0.TS or CR0.MP.
    public static let cr0SelectiveWrite = Self(rawValue: 1 << 5)
    /// Bit 6: reads of IDTR (SIDT).
    public static let idtrRead = Self(rawValue: 1 << 6)
    /// Bit 7: reads of GDTR (SGDT).
    public static let gdtrRead = Self(rawValue: 1 << 7)
    /// Bit 8: reads of LDTR (SLDT).
    public static let ldtrRead = Self(rawValue: 1 << 8)
    /// Bit 9: reads of TR (STR).
    public static let trRead = Self(rawValue: 1 << 9)
    /// Bit 10: writes of IDTR (LIDT).
    public static let idtrWrite = Self(rawValue: 1 << 10)
    /// Bit 11: writes of GDTR (LGDT).
    public static let gdtrWrite = Self(rawValue: 1 << 11)
    /// Bit 12: writes of LDTR (LLDT).
    public static let ldtrWrite = Self(rawValue: 1 << 12)
    /// Bit 13: writes of TR (LTR).
    public static let trWrite = Self(rawValue: 1 << 13)
    /// Bit 14: RDTSC.
    public static let rdtsc = Self(rawValue: 1 << 14)
    /// Bit 15: RDPMC.
    public static let rdpmc = Self(rawValue: 1 << 15)
    /// Bit 16: PUSHF.
    public static let pushf = Self(rawValue: 1 << 16)
    /// Bit 17: POPF.
    public static let popf = Self(rawValue: 1 << 17)
    /// Bit 18: CPUID.
    public static let cpuid = Self(rawValue: 1 << 18)
    /// Bit 19: RSM.
    public static let rsm = Self(rawValue: 1 << 19)
    /// Bit 20: IRET.
    public static let iret = Self(rawValue: 1 << 20)
    /// Bit 21: software interrupts (INTn).
    public static let intn = Self(rawValue: 1 << 21)
    /// Bit 22: INVD.
    public static let invd = Self(rawValue: 1 << 22)
    /// Bit 23: PAUSE (subject to the PAUSE filter).
    public static let pause = Self(rawValue: 1 << 23)
    /// Bit 24: HLT.
    public static let hlt = Self(rawValue: 1 << 24)
    /// Bit 25: INVLPG.
    public static let invlpg = Self(rawValue: 1 << 25)
    /// Bit 26: INVLPGA.
    public static let invlpga = Self(rawValue: 1 << 26)
    /// Bit 27: IN/OUT accesses to the ports the IOPM selects (IOIO_PROT).
    public static let ioioProtection = Self(rawValue: 1 << 27)
    /// Bit 28: RDMSR/WRMSR of the MSRs the MSRPM selects (MSR_PROT).
    public static let msrProtection = Self(rawValue: 1 << 28)
    /// Bit 29: task switches.
    public static let taskSwitch = Self(rawValue: 1 << 29)
    /// Bit 30: FERR_FREEZE (processor freezing during legacy FERR handling).
    public static let ferrFreeze = Self(rawValue: 1 << 30)
    /// Bit 31: shutdown events (a triple fault).
    public static let shutdown = Self(rawValue: 1 << 31)
}

/// Intercept vector 4 (VMCB 010h): the SVM instructions and later
/// additions, and the CR write traps (bits 31:16, CR0-15).
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42).
public struct SVMInterceptVector4: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bit 0: VMRUN. Must be set: VMRUN fails with VMEXIT_INVALID otherwise.
    public static let vmrun = Self(rawValue: 1 << 0)
    /// Bit 1: VMMCALL.
    public static let vmmcall = Self(rawValue: 1 << 1)
    /// Bit 2: VMLOAD.
    public static let vmload = Self(rawValue: 1 << 2)
    /// Bit 3: VMSAVE.
    public static let vmsave = Self(rawValue: 1 << 3)
    /// Bit 4: STGI.
    public static let stgi = Self(rawValue: 1 << 4)
    /// Bit 5: CLGI.
    public static let clgi = Self(rawValue: 1 << 5)
    /// Bit 6: SKINIT.
    public static let skinit = Self(rawValue: 1 << 6)
    /// Bit 7: RDTSCP.
    public static let rdtscp = Self(rawValue: 1 << 7)
    /// Bit 8: ICEBP (INT1).
    public static let icebp = Self(rawValue: 1 << 8)
    /// Bit 9: WBINVD and WBNOINVD.
    public static let wbinvd = Self(rawValue: 1 << 9)
    /// Bit 10: MONITOR and MONITORX.
    public static let monitor = Self(rawValue: 1 << 10)
    /// Bit 11: MWAIT and MWAITX, unconditionally.
    public static let mwait = Self(rawValue: 1 << 11)
    /// Bit 12: MWAIT and MWAITX, if the monitor hardware is armed.
    public static let mwaitConditional = Self(rawValue: 1 << 12)
    /// Bit 13: XSETBV.
    public static let xsetbv = Self(rawValue: 1 << 13)
    /// Bit 14: RDPRU.
    public static let rdpru = Self(rawValue: 1 << 14)
    /// Bit 15: trap after a write to EFER (SEV-ES).
    public static let eferWriteTrap = Self(rawValue: 1 << 15)

    /// Bit 16 + `n`: trap after a write to CRn (n in 0...15, SEV-ES).
    public static func crWriteTrap(_ n: Int) -> Self {
        precondition(n >= 0 && n < 16, "CR number out of range")
        return Self(rawValue: 1 << UInt32(16 + n))
    }
}

/// The CR, DR read/write intercept words (VMCB 000h and 004h): bit n
/// intercepts CRn/DRn (n in 0...15).
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42).
public struct SVMRegisterIntercepts: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Register `n` (0...15).
    public static func register(_ n: Int) -> Self {
        precondition(n >= 0 && n < 16, "register number out of range")
        return Self(rawValue: 1 << UInt16(n))
    }

    public static let cr0 = register(0)
    public static let cr3 = register(3)
    public static let cr4 = register(4)
    public static let cr8 = register(8)
}

/// TLB_CONTROL (VMCB 05Ch, bits 39:32 of the 058h word): what VMRUN flushes.
///
/// AMD APM Vol. 2, "TLB Flush" (15.16.1 in rev. 3.42).
public struct TLBControl: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 00h: do nothing.
    public static let doNothing = Self(rawValue: 0x00)
    /// 01h: flush the entire TLB (all ASIDs, global entries too).
    public static let flushAll = Self(rawValue: 0x01)
    /// 03h: flush this guest's TLB entries (needs flush-by-ASID).
    public static let flushGuest = Self(rawValue: 0x03)
    /// 07h: flush this guest's non-global TLB entries (needs flush-by-ASID).
    public static let flushGuestNonGlobal = Self(rawValue: 0x07)
}

/// The VMCB clean bits (VMCB 0C0h): a set bit tells the processor the
/// fields of that group are unchanged since the last VMRUN of this VMCB
/// on this processor, so it may skip reloading them. Without the
/// VMCB-clean feature (CPUID 8000000Ah EDX[5]) keep them 0.
///
/// AMD APM Vol. 2, "VMCB Clean Field" (15.15.3 in rev. 3.42).
public struct VMCBCleanBits: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bit 0 (I): intercept vectors, TSC offset, PAUSE filter count/threshold.
    public static let intercepts = Self(rawValue: 1 << 0)
    /// Bit 1 (IOPM): IOPM_BASE_PA, MSRPM_BASE_PA.
    public static let iopm = Self(rawValue: 1 << 1)
    /// Bit 2 (ASID).
    public static let asid = Self(rawValue: 1 << 2)
    /// Bit 3 (TPR): V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR.
    public static let tpr = Self(rawValue: 1 << 3)
    /// Bit 4 (NP): NP_ENABLE, N_CR3, G_PAT.
    public static let nestedPaging = Self(rawValue: 1 << 4)
    /// Bit 5 (CRx): CR0, CR3, CR4, EFER.
    public static let controlRegisters = Self(rawValue: 1 << 5)
    /// Bit 6 (DRx): DR6, DR7.
    public static let debugRegisters = Self(rawValue: 1 << 6)
    /// Bit 7 (DT): GDTR, IDTR.
    public static let descriptorTables = Self(rawValue: 1 << 7)
    /// Bit 8 (SEG): CS, DS, SS, ES, CPL.
    public static let segments = Self(rawValue: 1 << 8)
    /// Bit 9 (CR2).
    public static let cr2 = Self(rawValue: 1 << 9)
    /// Bit 10 (LBR): DBGCTL, BR_FROM, BR_TO, LASTEXCPFROM, LASTEXCPTO.
    public static let lbr = Self(rawValue: 1 << 10)
    /// Bit 11 (AVIC): AVIC_APIC_BAR, backing page, logical/physical tables.
    public static let avic = Self(rawValue: 1 << 11)
}

/// The NP_ENABLE word (VMCB 090h).
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42).
public struct SVMNestedPagingControl: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: NP_ENABLE, nested paging with N_CR3 and G_PAT.
    public static let npEnable = Self(rawValue: 1 << 0)
    /// Bit 1: SEV enable.
    public static let sevEnable = Self(rawValue: 1 << 1)
    /// Bit 2: SEV-ES enable.
    public static let sevESEnable = Self(rawValue: 1 << 2)
    /// Bit 3: guest mode execute trap (GMET).
    public static let gmetEnable = Self(rawValue: 1 << 3)
    /// Bit 4: supervisor shadow stack check (SSSCheckEn).
    public static let supervisorShadowStackCheck = Self(rawValue: 1 << 4)
    /// Bit 5: virtual transparent encryption (VTE).
    public static let virtualTransparentEncryption = Self(rawValue: 1 << 5)
    /// Bit 6: read-only guest page tables.
    public static let readOnlyGuestPageTables = Self(rawValue: 1 << 6)
    /// Bit 7: INVLPGB/TLBSYNC enable.
    public static let invlpgbEnable = Self(rawValue: 1 << 7)
}

/// The virtual-interrupt word (VMCB 060h): V_TPR, V_IRQ and friends.
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42)
/// and "Virtual Interrupt Intercept" (15.21.4 in rev. 3.42).
public struct SVMVirtualInterrupt: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits 7:0 (V_TPR): the guest's virtual TPR (bits 3:0 used).
    public var virtualTPR: UInt8 {
        get { UInt8(self[bits: 0...7]) }
        set { self[bits: 0...7] = UInt64(newValue) }
    }
    /// Bit 8 (V_IRQ): a virtual interrupt is pending.
    public var virtualIRQ: Bool {
        get { self[bit: 8] }
        set { self[bit: 8] = newValue }
    }
    /// Bit 9 (VGIF): the virtual GIF value.
    public var virtualGIF: Bool {
        get { self[bit: 9] }
        set { self[bit: 9] = newValue }
    }
    /// Bits 19:16 (V_INTR_PRIO): priority of the pending virtual interrupt.
    public var virtualInterruptPriority: UInt8 {
        get { UInt8(self[bits: 16...19]) }
        set { self[bits: 16...19] = UInt64(newValue) }
    }
    /// Bit 20 (V_IGN_TPR): the pending virtual interrupt ignores the TPR.
    public var ignoreTPR: Bool {
        get { self[bit: 20] }
        set { self[bit: 20] = newValue }
    }
    /// Bit 24 (V_INTR_MASKING): virtualize interrupt masking (the guest's
    /// RFLAGS.IF and TPR act on virtual interrupts; the host's IF masks
    /// physical ones).
    public var virtualInterruptMasking: Bool {
        get { self[bit: 24] }
        set { self[bit: 24] = newValue }
    }
    /// Bit 25: virtual GIF enabled for this guest.
    public var virtualGIFEnable: Bool {
        get { self[bit: 25] }
        set { self[bit: 25] = newValue }
    }
    /// Bit 31: AVIC enable.
    public var avicEnable: Bool {
        get { self[bit: 31] }
        set { self[bit: 31] = newValue }
    }
    /// Bits 39:32 (V_INTR_VECTOR): the vector of the pending virtual interrupt.
    public var virtualInterruptVector: UInt8 {
        get { UInt8(self[bits: 32...39]) }
        set { self[bits: 32...39] = UInt64(newValue) }
    }
}

/// The interrupt-shadow word (VMCB 068h).
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42).
public struct SVMInterruptShadow: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0 (INTERRUPT_SHADOW): the guest is in an interrupt shadow (after STI or MOV SS).
    public static let interruptShadow = Self(rawValue: 1 << 0)
    /// Bit 1 (GUEST_INTERRUPT_MASK): the guest's RFLAGS.IF, written on #VMEXIT with V_INTR_MASKING.
    public static let guestInterruptMask = Self(rawValue: 1 << 1)
}

/// The virtualization-extensions word (VMCB 0B8h).
///
/// AMD APM Vol. 2, "VMCB Layout, Control Area" (Table B-1 in rev. 3.42).
public struct SVMVirtualizationExtensions: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0 (LBR_VIRTUALIZATION_ENABLE): VMRUN/#VMEXIT swap DBGCTL and the LBR MSRs.
    public static let lbrVirtualization = Self(rawValue: 1 << 0)
    /// Bit 1: virtualized VMSAVE/VMLOAD.
    public static let virtualizedVMSAVEVMLOAD = Self(rawValue: 1 << 1)
    /// Bit 2: virtualized instruction-based sampling.
    public static let virtualizedIBS = Self(rawValue: 1 << 2)
}
