import Testing
import VMXCore
@testable import VMExit

/// The dispatcher's `quick…` entries (a backend's fast exit path) against
/// `handle`: where a quick entry answers, it must leave the registers and
/// the counters exactly as `handle` does (and `handle` must say `.advance`);
/// where it declines, it must have done nothing at all, not even counted.
@Suite("Quick exit answers agree with handle")
struct QuickPathTests {
    /// Runs `quick` on one machine and `handle(event)` on another from the
    /// same registers; returns whether `quick` answered.
    static func compare(
        _ event: ExitEvent, registers: GuestRegisters, vcpu: FakeVCPU = FakeVCPU(),
        quick: (inout Dispatcher<CPUIDCache>, inout GuestRegisters, FakeVCPU) -> Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Bool {
        var fast = Machine(), slow = Machine()
        defer { fast.memory.deallocate(); slow.memory.deallocate() }
        fast.registers = registers; slow.registers = registers
        fast.vcpu = vcpu; slow.vcpu = vcpu
        let answered = quick(&fast.dispatcher, &fast.registers, fast.vcpu)
        if answered {
            let action = slow.handle(event)
            #expect(action == .advance, "\(event): quick answered, handle says \(action)", sourceLocation: sourceLocation)
            #expect(fast.registers == slow.registers, "\(event): registers differ", sourceLocation: sourceLocation)
            #expect(fast.dispatcher.statistics.total == 1, sourceLocation: sourceLocation)
            for reason: ExitReason in [.cpuid, .vmcall, .rdmsr, .ioInstruction] {
                #expect(fast.dispatcher.statistics[reason] == slow.dispatcher.statistics[reason],
                        "\(event): count of \(reason) differs", sourceLocation: sourceLocation)
            }
        } else {
            #expect(fast.registers == registers, "\(event): declined but changed registers", sourceLocation: sourceLocation)
            #expect(fast.dispatcher.statistics.total == 0, "\(event): declined but counted", sourceLocation: sourceLocation)
        }
        #expect(fast.console.bytes.isEmpty && fast.console.guestBytes.isEmpty, sourceLocation: sourceLocation)
        return answered
    }

    static let leaves: [UInt32] = Array(0...0x24) + [0x4000_0000, 0x4000_0001, 0x4000_0002, 0x7FFF_FFFF]
        + Array(0x8000_0000...0x8000_0009) + [0x8000_0021, 0xFFFF_FFFF]

    @Test("CPUID: every leaf and subleaf, with and without OSXSAVE/PKE in the guest's CR4")
    func cpuid() {
        var answered: Set<UInt64> = []
        for leaf in Self.leaves {
            for subleaf: UInt32 in [0, 1, 2, 3, 9, 0xFFFF_FFFF] {
                for cr4: UInt64 in [0, 1 << 18 | 1 << 22] {
                    var registers = GuestRegisters()
                    registers.rax = 0xDEAD_0000_0000_0000 | UInt64(leaf)
                    registers.rcx = 0xBEEF_0000_0000_0000 | UInt64(subleaf)
                    registers.rbx = 0x1234; registers.rdx = 0x5678; registers.rsi = 0x9ABC
                    let quick = Self.compare(
                        .cpuid(leaf: leaf, subleaf: subleaf), registers: registers, vcpu: FakeVCPU(cr4: cr4)
                    ) { dispatcher, registers, vcpu in
                        dispatcher.quickCPUID(leaf: leaf, subleaf: subleaf, registers: &registers, vcpu: vcpu)
                    }
                    if quick { answered.insert(UInt64(leaf) << 32 | UInt64(subleaf)) }
                }
            }
        }
        // What the fast path must answer itself (the guests' frequent leaves).
        for (leaf, subleaf): (UInt32, UInt32) in [(0, 0), (1, 0), (7, 0), (0x4000_0000, 0), (0x4000_0001, 0), (2, 9),
                                                 (4, 0), (0xB, 0)] {
            #expect(answered.contains(UInt64(leaf) << 32 | UInt64(subleaf)), "leaf \(leaf) subleaf \(subleaf)")
        }
        // What it must leave to the loop: a scan, an unknown leaf, the XSAVE size.
        for (leaf, subleaf): (UInt32, UInt32) in [(0xD, 0), (0xD, 1), (4, 1), (0x8000_0000, 0), (0x17, 0), (0xFFFF_FFFF, 0)] {
            #expect(!answered.contains(UInt64(leaf) << 32 | UInt64(subleaf)), "leaf \(leaf) subleaf \(subleaf)")
        }
    }

    @Test("CPUIDPolicy.adjustedLeaves names every leaf fixedUp changes")
    func adjustedLeaves() {
        let ones = CPUIDResult(eax: .max, ebx: .max, ecx: .max, edx: .max)
        let zeros = CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
        for leaf: UInt32 in 0..<64 where !CPUIDPolicy.adjusts(leaf: leaf) {
            for subleaf: UInt32 in [0, 1] {
                for cr4: UInt64 in [0, .max] {
                    for result in [ones, zeros] {
                        #expect(CPUIDPolicy.fixedUp(result, leaf: leaf, subleaf: subleaf, guestCR4: cr4,
                                                    xsaveAreaSize: 0x1234) == result, "leaf \(leaf)")
                    }
                }
            }
        }
    }

    @Test("VMCALL: refused at CPL > 0 and hypercall 3 answered; every other hypercall left to handle")
    func vmcall() {
        for cpl: UInt8 in [0, 3] {
            for function: UInt64 in [0, 1, 2, 3, 4, 5, 6, 9, .max] {
                for selector: UInt64 in [0xFFFF, 10, 18, 127, 128, .max] {
                    var registers = GuestRegisters()
                    registers.rax = function; registers.rbx = selector; registers.rcx = 0x1_0000; registers.rdx = 4
                    let quick = Self.compare(.hypercall, registers: registers, vcpu: FakeVCPU(cpl: cpl)) {
                        dispatcher, registers, vcpu in dispatcher.quickVMCALL(registers: &registers, vcpu: vcpu)
                    }
                    #expect(quick == (cpl != 0 || function == Hypercall.exitCount), "CPL \(cpl) function \(function)")
                }
            }
        }
    }

    @Test("RDMSR: the emulated MSRs but the MTRRs answered; MTRRs, #GP and allow-listed MSRs left to handle")
    func rdmsr() {
        let numbers: [UInt32] = [0x3A, 0x1B, 0x8B, 0x1A0, 0x277, 0xDA0, 0xE2, 0x601, 0xFE, 0x2FF, 0x200, 0x250,
                                 0x10, 0x48, 0x174, 0x1D9, 0x480, 0x491, 0xC000_0080, 0xC000_0100, 0x4000_0000]
        var answered: Set<UInt32> = []
        for number in numbers {
            var registers = GuestRegisters()
            registers.rax = .max; registers.rdx = .max; registers.rcx = UInt64(number)
            let quick = Self.compare(.msrRead(MSR(number)), registers: registers) { dispatcher, registers, _ in
                dispatcher.quickMSRRead(MSR(number), registers: &registers)
            }
            if quick { answered.insert(number) }
        }
        #expect(answered.isSuperset(of: [0x3A, 0x1B, 0x8B, 0x1A0]))
        #expect(answered.isDisjoint(with: [0xFE, 0x2FF, 0x200, 0x250, 0x10, 0x480, 0xC000_0080]))
    }

    @Test("I/O: IN of a byte from the debug port answered; every other access left to handle")
    func io() {
        let accesses = [
            PortIO(port: 0xE9, size: 1, isIn: true), PortIO(port: 0xE9, size: 1, isIn: false, value: 0x41),
            PortIO(port: 0xE9, size: 2, isIn: true), PortIO(port: 0xE9, size: 1, isIn: true, isString: true),
            PortIO(port: 0xE8, size: 2, isIn: true), PortIO(port: 0xCF8, size: 4, isIn: true),
            PortIO(port: 0xCFC, size: 1, isIn: true), PortIO(port: 0x92, size: 1, isIn: true),
            PortIO(port: 0x2F8, size: 1, isIn: true),
        ]
        for access in accesses {
            var registers = GuestRegisters()
            registers.rax = 0x1122_3344_5566_7788
            let quick = Self.compare(.io(access), registers: registers) { dispatcher, registers, _ in
                dispatcher.quickIO(access, registers: &registers)
            }
            #expect(quick == (access == accesses[0]), "\(access)")
        }
    }
}
