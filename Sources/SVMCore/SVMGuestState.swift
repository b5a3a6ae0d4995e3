import Primitives
import VMXCore

/// The guest state a VMCB's state-save area holds: what VMRUN loads.
///
/// `realMode(...)` and `longMode(...)` are the same architectural start
/// states as `VMCSGuestState.realMode(...)` and `.longMode(...)` (the test
/// guests' two starts), converted to SVM's form: segment attributes packed
/// into 12 bits (`SVMSegmentAttributes`), an unusable segment as
/// attributes 0, CPL from SS.DPL, DR6 at its reset value, and EFER.SVME
/// set (VMRUN requires it in the guest's EFER). SVM has no fixed CR0/CR4
/// bits: CR0 and CR4 are exactly what the guest asked for.
///
/// AMD APM Vol. 2, "VMCB Layout, State Save Area" (Table B-2 in rev. 3.42)
/// and "VMRUN Instruction" (15.5 in rev. 3.42).
public struct SVMGuestState: Hashable, Sendable {
    public var cr0: CR0
    public var cr2: UInt64
    public var cr3: UInt64
    public var cr4: CR4
    public var dr6: UInt64
    public var dr7: UInt64
    /// Must contain `.svme`.
    public var efer: EFER
    public var rflags: RFLAGS
    public var rip: UInt64
    public var rsp: UInt64
    public var rax: UInt64

    public var es: VMCBSegment
    public var cs: VMCBSegment
    public var ss: VMCBSegment
    public var ds: VMCBSegment
    public var fs: VMCBSegment
    public var gs: VMCBSegment
    public var ldtr: VMCBSegment
    public var tr: VMCBSegment
    /// Base and limit only.
    public var gdtr: VMCBSegment
    /// Base and limit only.
    public var idtr: VMCBSegment
    /// The current privilege level: VMRUN takes it from here, not from CS.
    public var cpl: UInt8

    public var star: UInt64
    public var lstar: UInt64
    public var cstar: UInt64
    public var sfmask: UInt64
    public var kernelGSBase: UInt64
    public var sysenterCS: UInt64
    public var sysenterESP: UInt64
    public var sysenterEIP: UInt64
    /// G_PAT: the guest's PAT under nested paging (unused without it).
    public var pat: UInt64
    /// DBGCTL (loaded only with LBR virtualization).
    public var debugControl: UInt64

    /// DR6 after reset.
    public static let defaultDR6: UInt64 = 0xFFFF_0FF0

    /// The VMX guest state `state` in SVM's form (see the type's notes),
    /// with EFER.SVME added. Fields VMX has and SVM has not (activity
    /// state, interruptibility, pending debug exceptions, VMCS link pointer)
    /// are dropped; those SVM has and VMX has not (CR2, RAX, the SYSCALL
    /// MSRs) are 0.
    public init(_ state: VMCSGuestState) {
        cr0 = state.cr0
        cr2 = 0
        cr3 = state.cr3
        cr4 = state.cr4
        dr6 = Self.defaultDR6
        dr7 = state.dr7
        efer = state.efer.union(.svme)
        rflags = state.rflags
        rip = state.rip
        rsp = state.rsp
        rax = 0
        es = VMCBSegment(state.es)
        cs = VMCBSegment(state.cs)
        ss = VMCBSegment(state.ss)
        ds = VMCBSegment(state.ds)
        fs = VMCBSegment(state.fs)
        gs = VMCBSegment(state.gs)
        ldtr = VMCBSegment(state.ldtr)
        tr = VMCBSegment(state.tr)
        gdtr = VMCBSegment(state.gdtr)
        idtr = VMCBSegment(state.idtr)
        cpl = state.ss.accessRights.dpl
        star = 0
        lstar = 0
        cstar = 0
        sfmask = 0
        kernelGSBase = 0
        sysenterCS = UInt64(state.sysenterCS)
        sysenterESP = state.sysenterESP
        sysenterEIP = state.sysenterEIP
        pat = state.pat
        debugControl = state.debugControl
    }

    /// A real-mode start: CR0 = ET (PE = PG = 0: SVM runs real mode
    /// directly), segments with base = selector << 4, limit 0xFFFF,
    /// attributes 0x093 (data) and 0x09B (code); TR a busy TSS (0x08B)
    /// limit 0xFFFF, LDTR not present (0); IDTR = the real-mode IVT (base
    /// 0, limit 0x3FF); RFLAGS = 0x2; CPL 0; EFER = SVME.
    public static func realMode(cs: UInt16, ip: UInt16, ss: UInt16, sp: UInt16) -> Self {
        Self(VMCSGuestState.realMode(cs: cs, ip: ip, ss: ss, sp: sp))
    }

    /// A 64-bit start: CR0 = PE MP ET NE WP PG, CR3 = `cr3`, CR4 = PAE
    /// OSFXSR OSXMMEXCPT, EFER = LME LMA SVME; CS selector 0x08 flat 64-bit
    /// code (attributes 0xA9B: L = 1, D = 0, G = 1), SS/DS/ES/FS/GS selector
    /// 0x10 flat data (0xC93), TR selector 0x18 a busy 64-bit TSS (0x08B,
    /// limit 0x67), LDTR not present; GDTR and IDTR base 0 limit 0; RFLAGS
    /// = 0x2; CPL 0.
    public static func longMode(rip: UInt64, rsp: UInt64, cr3: UInt64) -> Self {
        Self(VMCSGuestState.longMode(rip: rip, rsp: rsp, cr3: cr3))
    }

    /// Writes every field above into the state-save area (and nothing in
    /// the control area).
    public func write<V: VMCBAccess>(to vmcb: inout V) {
        vmcb.write(VMCB.es, es)
        vmcb.write(VMCB.cs, cs)
        vmcb.write(VMCB.ss, ss)
        vmcb.write(VMCB.ds, ds)
        vmcb.write(VMCB.fs, fs)
        vmcb.write(VMCB.gs, gs)
        vmcb.write(VMCB.gdtr, gdtr)
        vmcb.write(VMCB.ldtr, ldtr)
        vmcb.write(VMCB.idtr, idtr)
        vmcb.write(VMCB.tr, tr)
        vmcb.write(VMCB.cpl, cpl)
        vmcb.write(VMCB.efer, efer.rawValue)
        vmcb.write(VMCB.cr4, cr4.rawValue)
        vmcb.write(VMCB.cr3, cr3)
        vmcb.write(VMCB.cr0, cr0.rawValue)
        vmcb.write(VMCB.dr7, dr7)
        vmcb.write(VMCB.dr6, dr6)
        vmcb.write(VMCB.rflags, rflags.rawValue)
        vmcb.write(VMCB.rip, rip)
        vmcb.write(VMCB.rsp, rsp)
        vmcb.write(VMCB.rax, rax)
        vmcb.write(VMCB.star, star)
        vmcb.write(VMCB.lstar, lstar)
        vmcb.write(VMCB.cstar, cstar)
        vmcb.write(VMCB.sfmask, sfmask)
        vmcb.write(VMCB.kernelGSBase, kernelGSBase)
        vmcb.write(VMCB.sysenterCS, sysenterCS)
        vmcb.write(VMCB.sysenterESP, sysenterESP)
        vmcb.write(VMCB.sysenterEIP, sysenterEIP)
        vmcb.write(VMCB.cr2, cr2)
        vmcb.write(VMCB.gPAT, pat)
        vmcb.write(VMCB.debugControl, debugControl)
    }

    /// The state a VMCB holds (e.g. after #VMEXIT).
    public init<V: VMCBAccess>(reading vmcb: V) {
        cr0 = CR0(rawValue: vmcb.read(VMCB.cr0))
        cr2 = vmcb.read(VMCB.cr2)
        cr3 = vmcb.read(VMCB.cr3)
        cr4 = CR4(rawValue: vmcb.read(VMCB.cr4))
        dr6 = vmcb.read(VMCB.dr6)
        dr7 = vmcb.read(VMCB.dr7)
        efer = EFER(rawValue: vmcb.read(VMCB.efer))
        rflags = RFLAGS(rawValue: vmcb.read(VMCB.rflags))
        rip = vmcb.read(VMCB.rip)
        rsp = vmcb.read(VMCB.rsp)
        rax = vmcb.read(VMCB.rax)
        es = vmcb.read(VMCB.es)
        cs = vmcb.read(VMCB.cs)
        ss = vmcb.read(VMCB.ss)
        ds = vmcb.read(VMCB.ds)
        fs = vmcb.read(VMCB.fs)
        gs = vmcb.read(VMCB.gs)
        ldtr = vmcb.read(VMCB.ldtr)
        tr = vmcb.read(VMCB.tr)
        gdtr = vmcb.read(VMCB.gdtr)
        idtr = vmcb.read(VMCB.idtr)
        cpl = vmcb.read(VMCB.cpl)
        star = vmcb.read(VMCB.star)
        lstar = vmcb.read(VMCB.lstar)
        cstar = vmcb.read(VMCB.cstar)
        sfmask = vmcb.read(VMCB.sfmask)
        kernelGSBase = vmcb.read(VMCB.kernelGSBase)
        sysenterCS = vmcb.read(VMCB.sysenterCS)
        sysenterESP = vmcb.read(VMCB.sysenterESP)
        sysenterEIP = vmcb.read(VMCB.sysenterEIP)
        pat = vmcb.read(VMCB.gPAT)
        debugControl = vmcb.read(VMCB.debugControl)
    }
}
