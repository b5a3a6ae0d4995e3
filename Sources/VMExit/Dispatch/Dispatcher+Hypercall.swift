/// The VMCALL ABI of Guest/README.md: function in RAX, arguments in RBX,
/// RCX, RDX; result in RAX (0 = done, ~0 = unknown function or bad
/// argument); every other register preserved; then advance.
public enum Hypercall {
    /// RBX = GPA, RCX = length (<= 4096): the bytes go to the console.
    public static let write: UInt64 = 1
    /// RBX = 1 passed / 0 failed, RCX = GPA of the name, RDX = length (<= 200).
    public static let check: UInt64 = 2
    /// RBX = basic exit reason (0..127) or 0xFFFF for all: RAX = exits so far.
    public static let exitCount: UInt64 = 3
    /// RBX = status: the guest ends.
    public static let powerOff: UInt64 = 4
    /// RBX = GPA of a check's name, RCX = length (<= 200): the next stop by
    /// the hypervisor passes it, any other end fails it.
    public static let expectStop: UInt64 = 5
    /// Hostile-guest harness only. RBX = GPA of the attack's name, RCX =
    /// its length (1...64), RDX = recovery RIP.
    public static let attackBegin: UInt64 = 6
    /// Hostile-guest harness only: the open attack ends.
    public static let attackEnd: UInt64 = 7
    /// Hostile-guest harness only: RBX = GPA of a 4 KiB-aligned page the
    /// hypervisor fills with its layout.
    public static let hostInfo: UInt64 = 8
    /// Hostile-guest harness only, no attack open: the attack named by RBX
    /// (GPA) and RCX (length, 1...64) does not apply here for the reason
    /// RDX (`HostileSkipReason`); the hypervisor checks the reason and says
    /// so on its verdict channel, or refuses (the guest then runs it).
    public static let attackSkip: UInt64 = 9
    public static let maximumAttackNameLength: UInt64 = 64
    /// BIOS guests only: RBX = GPA of the register frame pxHV's real-mode
    /// INT 13h/15h handler built (`BIOSCallFrame`); the hypervisor serves
    /// the call and writes the results into the frame. RAX = 0, or all ones
    /// (not a BIOS guest, the frame is not guest RAM, nothing served).
    public static let biosService: UInt64 = 10

    public static let done: UInt64 = 0
    public static let failure: UInt64 = ~0
    /// The result of any hypercall made at CPL > 0: only the guest's kernel
    /// may call the hypervisor (a user process must not power off the
    /// machine or write on its console).
    public static let notPermitted: UInt64 = ~1
    public static let maximumWriteLength: UInt64 = 4096
    public static let maximumNameLength: UInt64 = 200
    /// Hypercall 3's "all exits" selector.
    public static let allExits: UInt64 = 0xFFFF
}

extension Dispatcher {
    /// A hypercall from CPL > 0: RAX = `notPermitted`, nothing else happens.
    func refuseHypercall(registers: inout GuestRegisters) -> ExitAction {
        registers.rax = Hypercall.notPermitted
        return .advance
    }

    /// Bytes copied per console write of hypercall 1 (a stack buffer).
    static var writeChunk: Int { 256 }

    /// A hypercall from CPL 0. Hypercall 3 (the exit-count read a guest's
    /// measuring loop makes) is answered here, inline in the exit path; the
    /// others go out of line to `handleOtherHypercall`. A stop
    /// (hypercall 4) resolves the hypercall-5 expectation.
    @inline(__always)
    mutating func hypercall<Memory: GuestMemory, Console: HypervisorConsole, Checks: CheckRecorder>(
        registers: inout GuestRegisters, memory: Memory, console: inout Console, checks: inout Checks
    ) -> ExitAction {
        if registers.rax == Hypercall.exitCount {
            registers.rax = exitCount(selector: registers.rbx)
            return .advance
        }
        return settled(handleOtherHypercall(registers: &registers, memory: memory, console: &console, checks: &checks),
                       console: &console, checks: &checks)
    }

    /// Hypercall 3's answer: the exits so far of one basic reason, or of
    /// all. Mutating only to read the counters in place (a non-mutating
    /// read of one copies all 130, DESIGN.md).
    @inline(__always)
    mutating func exitCount(selector: UInt64) -> UInt64 {
        if selector == Hypercall.allExits { return statistics.total }
        if selector < UInt64(ExitStatistics.trackedReasonCount) {
            let reason = ExitReason(rawValue: UInt16(selector))
            return withUnsafePointer(to: &statistics) { ExitStatistics.count(in: $0, reason) }
        }
        return Hypercall.failure
    }

    /// Every hypercall but 3 (which `hypercall` answers inline).
    @inline(never)
    mutating func handleOtherHypercall<Memory: GuestMemory, Console: HypervisorConsole, Checks: CheckRecorder>(
        registers: inout GuestRegisters, memory: Memory, console: inout Console, checks: inout Checks
    ) -> ExitAction {
        let result: UInt64
        switch registers.rax {
        case Hypercall.write:
            result = hypercallWrite(address: registers.rbx, length: registers.rcx, memory: memory, console: &console)
        case Hypercall.check:
            result = hypercallCheck(outcome: registers.rbx, address: registers.rcx, length: registers.rdx,
                                    memory: memory, console: &console, checks: &checks)
        case Hypercall.exitCount:
            result = exitCount(selector: registers.rbx)
        case Hypercall.powerOff:
            return .stopGuest(.guestPowerOff(status: registers.rbx))
        case Hypercall.expectStop:
            result = hypercallExpectStop(address: registers.rbx, length: registers.rcx, memory: memory)
        case Hypercall.attackBegin where harnessEnabled:
            let length = registers.rcx
            guard length >= 1, length <= Hypercall.maximumAttackNameLength,
                  memory.isReadable(at: registers.rbx, count: length) else { result = Hypercall.failure; break }
            return .harness(.begin(nameAddress: registers.rbx, nameLength: Int(length), recoveryRIP: registers.rdx))
        case Hypercall.attackEnd where harnessEnabled:
            return .harness(.end)
        case Hypercall.attackSkip where harnessEnabled:
            let length = registers.rcx
            guard length >= 1, length <= Hypercall.maximumAttackNameLength,
                  memory.isReadable(at: registers.rbx, count: length) else { result = Hypercall.failure; break }
            return .harness(.skip(nameAddress: registers.rbx, nameLength: Int(length), reason: registers.rdx))
        case Hypercall.biosService where biosServicesEnabled:
            return .biosService(frame: registers.rbx)
        case Hypercall.hostInfo where harnessEnabled:
            guard registers.rbx & 0xFFF == 0, memory.isReadable(at: registers.rbx, count: 4096) else {
                result = Hypercall.failure
                break
            }
            return .harness(.hostInfo(address: registers.rbx))
        default:
            result = Hypercall.failure
        }
        registers.rax = result
        return .advance
    }

    func hypercallWrite<Memory: GuestMemory, Console: HypervisorConsole>(
        address: UInt64, length: UInt64, memory: Memory, console: inout Console
    ) -> UInt64 {
        guard length <= Hypercall.maximumWriteLength, memory.isReadable(at: address, count: length) else {
            return Hypercall.failure
        }
        return withUnsafeTemporaryAllocation(byteCount: Self.writeChunk, alignment: 8) { buffer in
            var offset: UInt64 = 0
            while offset < length {
                let count = Int(min(UInt64(Self.writeChunk), length - offset))
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                guard memory.read(at: address + offset, into: chunk) else { return Hypercall.failure }
                console.guestOutput(UnsafeRawBufferPointer(chunk))
                offset += UInt64(count)
            }
            return Hypercall.done
        }
    }

    func hypercallCheck<Memory: GuestMemory, Console: HypervisorConsole, Checks: CheckRecorder>(
        outcome: UInt64, address: UInt64, length: UInt64, memory: Memory,
        console: inout Console, checks: inout Checks
    ) -> UInt64 {
        guard outcome <= 1, length <= Hypercall.maximumNameLength,
              memory.isReadable(at: address, count: length) else { return Hypercall.failure }
        return withUnsafeTemporaryAllocation(byteCount: StopExpectation.capacity, alignment: 8) { buffer in
            let name = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(length)])
            guard memory.read(at: address, into: name) else { return Hypercall.failure }
            Self.report(passed: outcome == 1, name: UnsafeRawBufferPointer(name), console: &console, checks: &checks)
            return Hypercall.done
        }
    }

    mutating func hypercallExpectStop<Memory: GuestMemory>(
        address: UInt64, length: UInt64, memory: Memory
    ) -> UInt64 {
        guard length <= Hypercall.maximumNameLength, memory.isReadable(at: address, count: length) else {
            return Hypercall.failure
        }
        let count = Int(length)
        let copied = withUnsafeTemporaryAllocation(byteCount: StopExpectation.capacity, alignment: 8) { buffer -> Bool in
            let name = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            guard memory.read(at: address, into: name) else { return false }
            for index in 0..<count { expectation.name[index] = name[index] }
            return true
        }
        guard copied else { return Hypercall.failure }
        expectation.length = count
        expectation.isPending = true
        return Hypercall.done
    }
}
