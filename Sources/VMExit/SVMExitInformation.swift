import Primitives

/// EXITINFO1 of an IOIO intercept (VMEXIT_IOIO); EXITINFO2 holds the RIP
/// of the next instruction.
///
/// AMD APM Vol. 2, "I/O Intercepts" (15.10.2 in rev. 3.42), figure
/// "EXITINFO1 for IOIO Intercept".
public struct SVMIOInformation: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0 (TYPE) = 1: IN or INS (port to guest).
    public var isIn: Bool { rawValue[bit: 0] }
    /// Bit 0 = 0: OUT or OUTS.
    public var isOut: Bool { !isIn }
    /// Bit 2 (STR): INS or OUTS.
    public var isString: Bool { rawValue[bit: 2] }
    /// Bit 3 (REP): REP prefixed.
    public var isREP: Bool { rawValue[bit: 3] }
    /// Bits 6:4 (SZ32, SZ16, SZ8), one-hot.
    public var sizeBits: UInt8 { UInt8(truncatingIfNeeded: rawValue[bits: 4...6]) }
    /// The access size in bytes (1, 2 or 4); nil unless exactly one of
    /// SZ8 (bit 4), SZ16 (bit 5), SZ32 (bit 6) is set.
    public var size: Int? {
        switch sizeBits {
        case 0b001: 1
        case 0b010: 2
        case 0b100: 4
        default: nil
        }
    }
    /// Bits 9:7 (A64, A32, A16), one-hot: the address size of INS/OUTS in
    /// bits (16, 32, 64); nil when not exactly one is set.
    public var addressSize: Int? {
        switch rawValue[bits: 7...9] {
        case 0b001: 16
        case 0b010: 32
        case 0b100: 64
        default: nil
        }
    }
    /// Bits 12:10 (SEG, with decode assists): the effective segment of
    /// OUTS (0 = ES, 1 = CS, 2 = SS, 3 = DS, 4 = FS, 5 = GS).
    public var segment: UInt8 { UInt8(truncatingIfNeeded: rawValue[bits: 10...12]) }
    /// Bits 31:16: the port.
    public var port: UInt16 { UInt16(truncatingIfNeeded: rawValue[bits: 16...31]) }
}

/// EXITINFO1 of a nested page fault (VMEXIT_NPF): a #PF-style error code
/// for the nested (guest-physical to host-physical) walk; EXITINFO2 holds
/// the faulting guest-physical address.
///
/// AMD APM Vol. 2, "Nested Page Fault Exit" (15.25.6 in rev. 3.42).
public struct SVMNestedPageFaultErrorCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0 (P): the nested entry was present (a protection fault);
    /// 0: not present.
    public var isPresent: Bool { rawValue[bit: 0] }
    /// Bit 1 (RW): a write.
    public var isWrite: Bool { rawValue[bit: 1] }
    /// Bit 2 (US): the access was a user access (nested walks are user
    /// accesses, so this is usually 1).
    public var isUser: Bool { rawValue[bit: 2] }
    /// Bit 3 (RSV): a reserved bit was set in a nested entry.
    public var isReservedBitViolation: Bool { rawValue[bit: 3] }
    /// Bit 4 (ID): an instruction fetch.
    public var isInstructionFetch: Bool { rawValue[bit: 4] }
    /// Bit 32: the fault was on the final guest-physical address of the
    /// access.
    public var isFinalTranslation: Bool { rawValue[bit: 32] }
    /// Bit 33: the fault was on a guest page-table access (the guest's own
    /// walk).
    public var isGuestPageTableWalk: Bool { rawValue[bit: 33] }
}

/// A CR read or write intercept: which CR, which way, and (with decode
/// assists) which general-purpose register.
///
/// With DecodeAssists, EXITINFO1 bit 63 = 1 says the instruction was MOV
/// CRn and bits 3:0 name its GPR; bit 63 = 0 on a CR0 write means LMSW or
/// CLTS (or SMSW on a read). Without DecodeAssists EXITINFO1 is 0, and the
/// instruction must be decoded from guest memory (`SVMNextRIP`'s decoder
/// can: `SVMInstruction.decodeMoveControlRegister`).
///
/// AMD APM Vol. 2, "MOV CRx Intercepts" / "Decode Assists" (15.9, 15.33 in rev. 3.42).
public struct SVMControlRegisterAccess: Hashable, Sendable {
    /// 0-15.
    public var controlRegister: UInt8
    /// MOV to CR (a write intercept); else MOV from CR.
    public var isWrite: Bool
    /// The GPR of the MOV, when known (decode assists, or decoded from
    /// the instruction bytes); nil otherwise.
    public var generalPurposeRegister: GeneralPurposeRegister?

    public init(controlRegister: UInt8, isWrite: Bool, generalPurposeRegister: GeneralPurposeRegister?) {
        self.controlRegister = controlRegister
        self.isWrite = isWrite
        self.generalPurposeRegister = generalPurposeRegister
    }

    /// From EXITINFO1 of a CR intercept.
    public init(controlRegister: UInt8, isWrite: Bool, exitInfo1: UInt64) {
        self.init(controlRegister: controlRegister, isWrite: isWrite,
                  generalPurposeRegister: exitInfo1[bit: 63]
                      ? GeneralPurposeRegister(rawValue: UInt8(truncatingIfNeeded: exitInfo1[bits: 0...3])) : nil)
    }
}
