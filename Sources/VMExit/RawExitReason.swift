import EPT
import Primitives
/// The 32-bit exit-reason field (VMCS encoding 0x4402), decoded bit by bit.
/// The basic reason comes out as its own value: nothing indexes by the raw
/// field (bit 31 would send a failed entry to an ordinary handler).
///
/// Intel SDM Vol. 3C, "Basic VM-Exit Information" (25.9.1 in rev. 84),
/// table "Format of Exit Reason"
public struct RawExitReason: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bits 15:0.
    public var basicReason: ExitReason {
        ExitReason(rawValue: UInt16(truncatingIfNeeded: rawValue[bits: 0...15]))
    }
    /// Bit 25: a shadow-stack token was prematurely busy (CET).
    public var isShadowStackPrematurelyBusy: Bool { rawValue[bit: 25] }
    /// Bit 26: the guest asserted a bus lock (with bus-lock detection).
    public var isBusLockAsserted: Bool { rawValue[bit: 26] }
    /// Bit 27: the exit was incident to enclave mode (SGX).
    public var isEnclaveMode: Bool { rawValue[bit: 27] }
    /// Bit 28: an MTF VM exit was pending (SMM VM exits only).
    public var isPendingMTF: Bool { rawValue[bit: 28] }
    /// Bit 29: the exit came from VMX root operation (SMM VM exits only).
    public var isFromVMXRoot: Bool { rawValue[bit: 29] }
    /// Bit 31: VM entry failed (basic reason 33, 34 or 41); no guest ran.
    public var isVMEntryFailure: Bool { rawValue[bit: 31] }
}
