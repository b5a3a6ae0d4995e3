/// Where pxHV's code on an application processor last said it is (the AP's
/// phase word), as far as the probe needs it.
public enum ProcessorStanding: Hashable, Sendable {
    /// Parked: in VMX root operation (or in pxHV's own SVM guest), halted.
    case parked
    /// Running a vCPU of a guest that starts its own CPUs: in that guest, or
    /// in VMX root waiting for its STARTUP. `nestedRoot`: the EPT (or NPT)
    /// root that guest runs on, nil when pxHV cannot tell.
    case vcpu(nestedRoot: UInt64?)
    /// Anywhere else (not started, VMXON failed, a CPU exception).
    case elsewhere
}

/// An application processor as the boot CPU sees it from outside: the word
/// in which pxHV's code on it says where it is, two counters that only
/// pxHV's code on it advances (both in memory no guest reaches), and the two
/// signals the boot CPU can send it.
public protocol ProbedProcessor {
    var standing: ProcessorStanding { get }
    /// NMIs the AP took in pxHV's own code: its NMI handler in VMX root,
    /// which executes VMPTRST before it counts (outside VMX operation that
    /// raises #UD, in VMX non-root it exits), or under AMD-V the NMIs its
    /// park guest took and the INIT exits it makes while an INIT stays
    /// latched there (it then takes no NMI, but only pxHV's code on it
    /// advances the count).
    var handledNMIs: UInt64 { get }
    /// NMI exits of its vCPU, counted by pxHV's exit loop on the AP (0
    /// without one).
    var vcpuNMIExits: UInt64 { get }
    /// A plain NMI (a parked AP counts it).
    mutating func sendNMI()
    /// A kick: counted as pxHV's request at the AP, then an NMI, so that a
    /// vCPU takes it for the hypervisor's and gives its guest no NMI.
    mutating func kick()
    /// One step of the wait for the answer (PAUSE; no timer a guest could
    /// have reprogrammed).
    func pause()
}

/// How an AP answered the probe. Contained: parked, or a vCPU of the guest
/// under test (in that guest or in VMX root); anything else means the AP
/// may be running guest code outside the hypervisor.
public enum ProcessorAnswer: Hashable, Sendable {
    /// Parked, and its NMI handler counted the NMI.
    case parked
    /// This guest's vCPU; the kick arrived as an NMI exit of its guest.
    case vcpuInGuest
    /// This guest's vCPU; the kick arrived in VMX root (waiting for its
    /// STARTUP, or between two of its guest's exits).
    case vcpuInRoot
    /// Parked or a vCPU by its phase word, but neither counter moved: the
    /// CPU does not run pxHV's code (e.g. an INIT/SIPI started it on guest
    /// code outside VMX), or it hangs.
    case silent
    /// A vCPU of another guest's nested page tables.
    case otherGuest
    /// Its phase word changed while it was probed (parked again: its
    /// guest stopped).
    case moved
    /// Neither parked nor a vCPU.
    case notContained

    public var isContained: Bool {
        switch self {
        case .parked, .vcpuInGuest, .vcpuInRoot: true
        case .silent, .otherGuest, .moved, .notContained: false
        }
    }

    public var name: StaticString {
        switch self {
        case .parked: "parked"
        case .vcpuInGuest: "vCPU in the guest"
        case .vcpuInRoot: "vCPU in VMX root"
        case .silent: "SILENT (no answer from pxHV's code)"
        case .otherGuest: "vCPU of ANOTHER guest"
        case .moved: "MOVED while probed"
        case .notContained: "NOT parked and no vCPU"
        }
    }
}

/// The boot CPU's check of one AP after an attack: is it parked, or this
/// guest's vCPU, and does pxHV's code on it answer?
///
/// A parked AP gets a plain NMI and must count it in its handler; a vCPU
/// gets a kick and must take it either as an NMI exit (its guest runs) or
/// in its NMI handler (it is in VMX root). The phase word alone proves
/// nothing: a CPU that a real INIT/SIPI restarted on guest code keeps the
/// phase it had. The counters do: only pxHV's code on that CPU advances
/// them, and only in VMX operation.
public enum ProcessorProbe {
    /// PAUSE steps to wait for the answer (bounded, no timer).
    public static let defaultSpins = 2_000_000

    /// Probes `processor`; `guestRoot` is the nested page tables' root of
    /// the guest whose vCPUs the APs may run (nil: none may).
    public static func probe<Processor: ProbedProcessor>(
        _ processor: inout Processor, guestRoot: UInt64?, spins: Int = defaultSpins
    ) -> ProcessorAnswer {
        let standing = processor.standing
        switch standing {
        case .parked:
            let handled = processor.handledNMIs
            processor.sendNMI()
            guard wait(processor, spins: spins, until: { $0.handledNMIs != handled }) else { return .silent }
        case .vcpu(let root):
            guard let root, let guestRoot, root == guestRoot else { return .otherGuest }
            let handled = processor.handledNMIs, exits = processor.vcpuNMIExits
            processor.kick()
            guard wait(processor, spins: spins, until: { $0.handledNMIs != handled || $0.vcpuNMIExits != exits })
            else { return .silent }
            guard processor.standing == standing else { return .moved }
            return processor.vcpuNMIExits != exits ? .vcpuInGuest : .vcpuInRoot
        case .elsewhere:
            return .notContained
        }
        return processor.standing == standing ? .parked : .moved
    }

    private static func wait<Processor: ProbedProcessor>(
        _ processor: Processor, spins: Int, until answered: (Processor) -> Bool
    ) -> Bool {
        for _ in 0..<spins {
            if answered(processor) { return true }
            processor.pause()
        }
        return answered(processor)
    }
}
