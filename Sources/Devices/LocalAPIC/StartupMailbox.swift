import Primitives

/// One application processor's vCPU as INIT and STARTUP see it, in one
/// 64-bit word that any CPU may change (with a compare-and-exchange of the
/// whole word): whether the vCPU runs, and the INIT or STARTUP another CPU
/// posted for it. The hypervisor delivers a guest's INIT and STARTUP this
/// way instead of sending the real IPIs, so that no real INIT or SIPI ever
/// reaches a vCPU (under either vendor: AMD-V has no wait-for-SIPI state).
///
/// The rules are the processor's (Intel SDM Vol. 3A, "MP Initialization
/// Protocol Algorithm for MP Systems" and "Interrupt Command Register";
/// Vol. 3C, "Activity State" for wait-for-SIPI):
/// - INIT to a running CPU resets it into wait-for-SIPI; to one already
///   waiting it changes nothing (a STARTUP posted before it and not yet
///   taken is withdrawn: on hardware that STARTUP would have started the
///   CPU and the INIT reset it again).
/// - STARTUP starts a CPU that waits for one at vector << 12; a running CPU
///   ignores it, and so does one that has a STARTUP pending (the second
///   SIPI of the INIT-SIPI-SIPI sequence).
///
/// Senders: `posting(_:)`; the vCPU in VMX non-root (after a kick):
/// `takingINIT()`; the vCPU waiting in VMX root: `takingStartup()`.
public struct StartupMailbox: BitFieldRepresentable, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public enum Field {
        /// The vCPU runs guest code (started by a STARTUP, not reset since).
        public static let running = 0
        /// An INIT for the running vCPU, not taken yet.
        public static let initPending = 1
        /// A STARTUP for the waiting vCPU, not taken yet; its vector.
        public static let startupPending = 2
        public static let vector = 8...15
    }

    /// A vCPU waiting for a STARTUP with nothing posted: where each starts.
    public static let waiting = Self(rawValue: 0)

    public var isRunning: Bool { self[bit: Field.running] }
    public var hasINIT: Bool { self[bit: Field.initPending] }
    /// The vector of the STARTUP posted and not taken, if any.
    public var pendingStartup: UInt8? {
        self[bit: Field.startupPending] ? UInt8(self[bits: Field.vector]) : nil
    }

    /// The word after another CPU posts `signal`, and whether the vCPU
    /// must be kicked (an NMI: it runs guest code and must leave it, or it
    /// waits in VMX root for a STARTUP that has now come). Nil when the
    /// signal changes nothing (no store, no kick).
    public func posting(_ signal: StartupSignal) -> (mailbox: Self, kick: Bool)? {
        var next = self
        switch signal {
        case .initialize:
            if isRunning {
                guard !hasINIT else { return nil }
                next[bit: Field.initPending] = true
                return (next, true)
            }
            guard pendingStartup != nil else { return nil }
            next[bit: Field.startupPending] = false
            next[bits: Field.vector] = 0
            return (next, false)
        case .startup(let vector):
            // Running (and not about to be reset), or already started.
            if (isRunning && !hasINIT) || pendingStartup != nil { return nil }
            next[bit: Field.startupPending] = true
            next[bits: Field.vector] = UInt64(vector)
            return (next, true)
        }
    }

    /// The running vCPU takes a posted INIT: the word after (waiting, a
    /// STARTUP posted after the INIT kept), or nil when there is none.
    public func takingINIT() -> Self? {
        guard isRunning && hasINIT else { return nil }
        var next = self
        next[bit: Field.initPending] = false
        next[bit: Field.running] = false
        return next
    }

    /// The waiting vCPU takes a posted STARTUP: the word after (running)
    /// and the vector, or nil when there is none.
    public func takingStartup() -> (mailbox: Self, startup: UInt8)? {
        guard !isRunning, let vector = pendingStartup else { return nil }
        var next = self
        next[bit: Field.startupPending] = false
        next[bits: Field.vector] = 0
        next[bit: Field.running] = true
        return (next, vector)
    }

    /// The vCPU stopped running for a reason of its own (an INIT it sent
    /// itself, a real INIT signal): waiting, a STARTUP already posted kept.
    public var leavingGuest: Self {
        var next = self
        next[bit: Field.initPending] = false
        next[bit: Field.running] = false
        return next
    }
}
