/// The host-state area: what the processor loads on every VM exit.
///
/// The caller fills it from the running CPU (CR0/CR3/CR4, the selectors and
/// bases of its GDT/IDT/TSS, the MSRs) and points RSP/RIP at the exit stub.
/// The processor loads no LDTR and no limits: after an exit the GDTR/IDTR
/// limits are 0xFFFF and TR's limit is 0x67.
///
/// Intel SDM Vol. 3C, "Host-State Area" (25.5 in rev. 84).
public struct VMCSHostState: Hashable, Sendable {
    public var cr0: CR0
    public var cr3: UInt64
    public var cr4: CR4

    public var csSelector: UInt16
    public var ssSelector: UInt16
    public var dsSelector: UInt16
    public var esSelector: UInt16
    public var fsSelector: UInt16
    public var gsSelector: UInt16
    public var trSelector: UInt16

    public var fsBase: UInt64
    public var gsBase: UInt64
    public var trBase: UInt64
    public var gdtrBase: UInt64
    public var idtrBase: UInt64

    public var sysenterCS: UInt32
    public var sysenterESP: UInt64
    public var sysenterEIP: UInt64
    /// IA32_EFER (loaded with the "load IA32_EFER" exit control; its LMA
    /// also tells the checker the host runs in IA-32e mode).
    public var efer: EFER
    /// IA32_PAT (loaded with "load IA32_PAT").
    public var pat: UInt64

    /// The stack the exit stub starts on.
    public var rsp: UInt64
    /// The exit stub.
    public var rip: UInt64

    public init(
        cr0: CR0, cr3: UInt64, cr4: CR4,
        csSelector: UInt16, ssSelector: UInt16, dsSelector: UInt16, esSelector: UInt16,
        fsSelector: UInt16, gsSelector: UInt16, trSelector: UInt16,
        fsBase: UInt64 = 0, gsBase: UInt64 = 0, trBase: UInt64, gdtrBase: UInt64, idtrBase: UInt64,
        sysenterCS: UInt32 = 0, sysenterESP: UInt64 = 0, sysenterEIP: UInt64 = 0,
        efer: EFER, pat: UInt64 = VMCSGuestState.defaultPAT,
        rsp: UInt64, rip: UInt64
    ) {
        self.cr0 = cr0
        self.cr3 = cr3
        self.cr4 = cr4
        self.csSelector = csSelector
        self.ssSelector = ssSelector
        self.dsSelector = dsSelector
        self.esSelector = esSelector
        self.fsSelector = fsSelector
        self.gsSelector = gsSelector
        self.trSelector = trSelector
        self.fsBase = fsBase
        self.gsBase = gsBase
        self.trBase = trBase
        self.gdtrBase = gdtrBase
        self.idtrBase = idtrBase
        self.sysenterCS = sysenterCS
        self.sysenterESP = sysenterESP
        self.sysenterEIP = sysenterEIP
        self.efer = efer
        self.pat = pat
        self.rsp = rsp
        self.rip = rip
    }

    /// Writes every host-state field above. IA32_PAT and IA32_EFER are
    /// written only when `exitControls` loads them (the fields exist only on
    /// processors with those controls).
    public func write<V: VMCSAccess>(to vmcs: inout V, exitControls: VMExitControls = [.loadPAT, .loadEFER]) throws(VMXError) {
        try vmcs.write([
            VMCSWrite(VMCS.hostCR0, cr0.rawValue), VMCSWrite(VMCS.hostCR3, cr3), VMCSWrite(VMCS.hostCR4, cr4.rawValue),
            VMCSWrite(VMCS.hostCSSelector, csSelector), VMCSWrite(VMCS.hostSSSelector, ssSelector),
            VMCSWrite(VMCS.hostDSSelector, dsSelector), VMCSWrite(VMCS.hostESSelector, esSelector),
            VMCSWrite(VMCS.hostFSSelector, fsSelector), VMCSWrite(VMCS.hostGSSelector, gsSelector),
            VMCSWrite(VMCS.hostTRSelector, trSelector),
            VMCSWrite(VMCS.hostFSBase, fsBase), VMCSWrite(VMCS.hostGSBase, gsBase), VMCSWrite(VMCS.hostTRBase, trBase),
            VMCSWrite(VMCS.hostGDTRBase, gdtrBase), VMCSWrite(VMCS.hostIDTRBase, idtrBase),
            VMCSWrite(VMCS.hostSysenterCS, sysenterCS), VMCSWrite(VMCS.hostSysenterESP, sysenterESP),
            VMCSWrite(VMCS.hostSysenterEIP, sysenterEIP),
            VMCSWrite(VMCS.hostEFER, efer.rawValue, if: exitControls.contains(.loadEFER)),
            VMCSWrite(VMCS.hostPAT, pat, if: exitControls.contains(.loadPAT)),
            VMCSWrite(VMCS.hostRSP, rsp), VMCSWrite(VMCS.hostRIP, rip),
        ] as InlineArray<22, VMCSWrite>)
    }
}
