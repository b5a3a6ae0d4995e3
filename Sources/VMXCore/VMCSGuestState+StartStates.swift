extension VMCSGuestState {
    /// A real-mode start under "unrestricted guest": CR0.PE = PG = 0,
    /// segments with base = selector << 4, limit 0xFFFF, access rights 0x93
    /// (data) and 0x9B (code); TR a busy 32-bit TSS (0x8B) at 0 (VM entry
    /// needs a usable TR even in real mode), LDTR unusable; IDTR = the
    /// real-mode IVT (base 0, limit 0x3FF); RFLAGS = 0x2.
    ///
    /// CR0 is ET alone (not the reset value's CD/NW: caching stays on);
    /// apply the fixed bits before writing (`applyFixedBits`), which adds NE.
    ///
    /// Intel SDM Vol. 3C, "Checks on Guest Segment Registers" (27.3.1.2 in rev. 84).
    public static func realMode(cs: UInt16, ip: UInt16, ss: UInt16, sp: UInt16) -> Self {
        let data = SegmentRegister.realMode(0, .realModeData)
        return Self(
            cr0: .et, cr3: 0, cr4: [], rsp: UInt64(sp), rip: UInt64(ip),
            es: data, cs: .realMode(cs, .realModeCode), ss: .realMode(ss, .realModeData), ds: data,
            fs: data, gs: data, ldtr: .unusable,
            tr: SegmentRegister(selector: 0, base: 0, limit: 0xFFFF, accessRights: .busyTSS),
            gdtr: DescriptorTableRegister(base: 0, limit: 0xFFFF),
            idtr: DescriptorTableRegister(base: 0, limit: 0x3FF))
    }

    /// A 64-bit start: CR0 = PE MP ET NE WP PG, CR3 = `cr3`, CR4 = PAE
    /// OSFXSR OSXMMEXCPT, EFER = LME LMA; CS selector 0x08 a flat 64-bit
    /// code segment (0xA09B), SS/DS/ES/FS/GS selector 0x10 flat data
    /// (0xC093), TR selector 0x18 a busy 64-bit TSS (0x8B, base 0, limit
    /// 0x67), LDTR unusable; GDTR and IDTR base 0, limit 0 (the guest loads
    /// its own; no descriptor is read on VM entry); RFLAGS = 0x2.
    ///
    /// Needs the "IA-32e mode guest" entry control. Apply the fixed bits
    /// before writing (adds CR4.VMXE).
    public static func longMode(rip: UInt64, rsp: UInt64, cr3: UInt64) -> Self {
        let data = SegmentRegister(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, accessRights: .flatData)
        return Self(
            cr0: [.pe, .mp, .et, .ne, .wp, .pg], cr3: cr3, cr4: [.pae, .osfxsr, .osxmmexcpt],
            rsp: rsp, rip: rip,
            es: data, cs: SegmentRegister(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, accessRights: .code64),
            ss: data, ds: data, fs: data, gs: data, ldtr: .unusable,
            tr: SegmentRegister(selector: 0x18, base: 0, limit: 0x67, accessRights: .busyTSS),
            gdtr: DescriptorTableRegister(base: 0, limit: 0),
            idtr: DescriptorTableRegister(base: 0, limit: 0),
            efer: [.lme, .lma])
    }

    /// A 32-bit protected-mode start with paging off, as Multiboot 0.6.96,
    /// "Machine state", asks: CR0 = PE ET (PG = 0; apply the fixed bits
    /// before writing, which adds NE), CR4 = 0, EFER = 0; CS selector 0x08
    /// a flat 32-bit execute/read code segment (0xC09B, base 0, limit
    /// 0xFFFFFFFF), SS/DS/ES/FS/GS selector 0x10 flat 32-bit read/write data
    /// (0xC093); TR selector 0x18 a busy 32-bit TSS (0x8B, base 0, limit
    /// 0x67; VM entry needs a usable TR), LDTR unusable; GDTR and IDTR base
    /// 0, limit 0 ("undefined": the OS loads its own before it loads a
    /// segment register or takes an exception); RFLAGS = 0x2 (IF = 0,
    /// VM = 0). With paging off this needs "unrestricted guest" on VT-x
    /// (CR0.PG = 0 with PE = 1 is outside the fixed bits otherwise).
    ///
    /// Intel SDM Vol. 3C, "Checks on Guest Segment Registers" (27.3.1.2 in rev. 84).
    public static func protectedMode32(eip: UInt32, esp: UInt32) -> Self {
        let data = SegmentRegister(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, accessRights: .flatData)
        return Self(
            cr0: [.pe, .et], cr3: 0, cr4: [], rsp: UInt64(esp), rip: UInt64(eip),
            es: data, cs: SegmentRegister(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, accessRights: .code32),
            ss: data, ds: data, fs: data, gs: data, ldtr: .unusable,
            tr: SegmentRegister(selector: 0x18, base: 0, limit: 0x67, accessRights: .busyTSS),
            gdtr: DescriptorTableRegister(base: 0, limit: 0),
            idtr: DescriptorTableRegister(base: 0, limit: 0))
    }
}
