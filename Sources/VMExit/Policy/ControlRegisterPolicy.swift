import VMXCore

/// Control-register exits: only writes that touch bits under a guest/host
/// mask exit (the hypervisor owns CR4.VMXE; the read shadow shows it 0),
/// plus CLTS/LMSW when CR0 bits they change are masked.
///
/// - MOV to CR4: bits 63:32 set, VMXE (bit 13) set, or a bit outside
///   `allowedCR4` set: #GP(0). Else `writeControlRegister(.move(to: 4, value))`.
/// - MOV to CR0: bits 63:32 set, PG without PE, NW without CD: #GP(0).
///   Else `writeControlRegister(.move(to: 0, value))`.
/// - MOV to CR3 (only with CR3-load exiting): `writeControlRegister`.
/// - CLTS: clear CR0.TS. LMSW: CR0[3:0] from the operand, PE never cleared.
/// - MOV from CR, MOV to CR8 or any other CR: stop the guest (not expected
///   with CR3-store/CR8 exiting off).
///
/// The handler returns the guest-visible value; the backend applies the
/// fixed bits (see `ControlRegisterUpdate`). Privilege (CPL > 0) faults
/// are delivered by the processor before any exit.
///
/// Intel SDM Vol. 3C, "Guest/Host Masks and Read Shadows for CR0 and CR4"
/// (25.6.6 in rev. 84); Vol. 2A/2B, MOV—Move to/from Control Registers,
/// CLTS, LMSW.
public struct ControlRegisterPolicy: Equatable, Sendable {
    /// CR4.VMXE (bit 13).
    public static let cr4VMXE = CR4.vmxe.rawValue

    /// CR4 bits the guest may set (e.g. IA32_VMX_CR4_FIXED1 without VMXE);
    /// default: bits 31:0 except VMXE.
    public var allowedCR4: UInt64

    public init(allowedCR4: UInt64 = 0xFFFF_FFFF & ~ControlRegisterPolicy.cr4VMXE) {
        self.allowedCR4 = allowedCR4 & ~Self.cr4VMXE
    }

    public func handleWrite(controlRegister: UInt8, value: UInt64) -> ExitAction {
        switch controlRegister {
        case 0:
            if value >> 32 != 0 { return .generalProtectionFault }
            let cr0 = CR0(rawValue: value)
            if cr0.contains(.pg) && !cr0.contains(.pe) { return .generalProtectionFault }
            if cr0.contains(.nw) && !cr0.contains(.cd) { return .generalProtectionFault }
            return .writeControlRegister(.move(to: 0, value))
        case 3:
            return .writeControlRegister(.move(to: 3, value))
        case 4:
            if value >> 32 != 0 || value & Self.cr4VMXE != 0 || value & ~allowedCR4 != 0 {
                return .generalProtectionFault
            }
            return .writeControlRegister(.move(to: 4, value))
        default:
            return .stopGuest(.unhandledControlRegisterAccess(controlRegister: controlRegister, isWrite: true))
        }
    }

    /// MOV from CR3 exits only on CPUs that force CR3-store exiting: the
    /// backend hands the guest its own CR3. Other reads are not intercepted.
    public func handleRead(controlRegister: UInt8, destination: GeneralPurposeRegister) -> ExitAction {
        if controlRegister == 3 { return .readControlRegister(controlRegister: 3, destination: destination) }
        return .stopGuest(.unhandledControlRegisterAccess(controlRegister: controlRegister, isWrite: false))
    }

    /// CLTS: CR0.TS = 0.
    public func handleCLTS() -> ExitAction {
        .writeControlRegister(ControlRegisterUpdate(controlRegister: 0, clearing: CR0.ts.rawValue, setting: 0))
    }

    /// LMSW: CR0 bits 3:0 (PE, MP, EM, TS) from the operand; PE can be set,
    /// never cleared.
    public func handleLMSW(sourceData: UInt16) -> ExitAction {
        let operand = UInt64(sourceData) & 0xF
        return .writeControlRegister(ControlRegisterUpdate(controlRegister: 0, clearing: 0xE, setting: operand))
    }
}
