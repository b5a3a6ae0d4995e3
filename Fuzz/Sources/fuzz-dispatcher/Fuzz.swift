import EPT
import FuzzSupport
import Primitives
import VMExit
import VMXCore

/// The exit dispatcher (Sources/VMExit): one `Dispatcher` per input, fed a
/// sequence of exits, each with registers and guest memory the input
/// chose, as a hostile guest would. Every exit goes through either the VMX
/// decoder (`VMExit.decode` over a fake VMCS's exit fields, then
/// `ExitEvent.fromVMX`) or straight in as an `ExitEvent`. CPUID, VMCALL,
/// RDMSR and I/O exits also go through the fast path's quick entry, which
/// must answer exactly as `handle` or decline without a trace.
///
/// Input: setup (mode byte: bit 0 the CPUID table is the input's, else a
/// Skylake-X-like one; PM1a port u16, 0 = none; S5 SLP_TYP u8; allowed
/// CR4 u64; 64 bytes of CPUID answers; a guest-memory chunk: address u32,
/// length u16, bytes), then exits until the input ends: kind byte, a
/// register mask u16 and one u64 per set bit, then the exit's fields.
func fuzzDispatcher(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.take(UInt8.self)
    let pm1a = input.take(UInt16.self)
    let s5 = input.take(UInt8.self)
    let allowedCR4: UInt64 = input.take()
    let answers = Array(input.take(count: 64))
    let cache = mode & 1 != 0 ? CPUIDCache(reading: FuzzCPU(answers: answers)) : FuzzCPU.skylakeCache
    let memoryAddress = UInt64(input.take(UInt32.self))
    let memoryBytes = Array(input.take(count: Int(input.take(UInt16.self) % 0x2000)))

    var dispatcher = Dispatcher(
        cpuid: cache, io: IOPolicy(pm1aControlPort: pm1a == 0 ? nil : pm1a, s5SleepType: s5),
        controlRegisters: ControlRegisterPolicy(allowedCR4: allowedCR4),
        nestedPageFaults: NestedPageFaultPolicy(hiddenMemory: FuzzGuestMemory.hidden))
    // Mode bit 1: the hostile-guest harness hypercalls (6-8) answer; bit 2:
    // the PCI filter protects the PIIX4 PM function's PMBA and PMREGMISC.
    dispatcher.harnessEnabled = mode & 2 != 0
    if mode & 4 != 0 {
        dispatcher.pciConfig = PCIConfigPolicy(protecting: [
            PCIConfigPolicy.Register(bus: 0, device: 1, function: 3, offset: 0x40, length: 4),
            PCIConfigPolicy.Register(bus: 0, device: 1, function: 3, offset: 0x80, length: 1),
        ])
    }
    let memory = FuzzGuestMemory(address: memoryAddress, bytes: memoryBytes)
    var console = CountingConsole()
    var checks = FixedCheckRecorder()
    var registers = GuestRegisters()
    var handled: UInt64 = 0

    while !input.isAtEnd {
        let kind = input.take(UInt8.self)
        let mask = input.take(UInt16.self)
        for index in 0..<16 where mask & (1 << index) != 0 {
            registers[GeneralPurposeRegister(rawValue: UInt8(index))] = input.take()
        }
        let vcpu = FuzzVCPU(cr4: input.take(), cpl: input.take(UInt8.self) & 3, rflags: input.take())
        let event = kind & 0x80 != 0 ? vmxEvent(&input, registers: registers) : neutralEvent(kind, &input)
        let before = registers
        // The fast exit path's quick entry for this exit, on a copy: when
        // it answers, it must answer as `handle` does (same registers, same
        // count, `.advance`).
        var quickDispatcher = dispatcher
        var quickRegisters = registers
        let quickAnswered: Bool
        switch event {
        case .cpuid(let leaf, let subleaf):
            quickAnswered = quickDispatcher.quickCPUID(leaf: leaf, subleaf: subleaf, registers: &quickRegisters, vcpu: vcpu)
        case .hypercall:
            quickAnswered = quickDispatcher.quickVMCALL(registers: &quickRegisters, vcpu: vcpu)
        case .msrRead(let msr):
            quickAnswered = quickDispatcher.quickMSRRead(msr, registers: &quickRegisters)
        case .io(let access):
            quickAnswered = quickDispatcher.quickIO(access, registers: &quickRegisters)
        default:
            quickAnswered = false
        }
        let action = dispatcher.handle(event, registers: &registers, vcpu: vcpu, memory: memory,
                                       console: &console, checks: &checks)
        if quickAnswered {
            fuzzCheck(action == .advance && quickRegisters == registers
                      && quickDispatcher.statistics.total == dispatcher.statistics.total,
                      "the fast path answered \(event) unlike handle")
        } else {
            fuzzCheck(quickRegisters == before && quickDispatcher.statistics.total == dispatcher.statistics.total - 1,
                      "the fast path declined \(event) but changed something")
        }
        handled += 1
        fuzzCheck(dispatcher.statistics.total == handled, "statistics lost an exit")
        // Handlers write results to RAX-RDX only (a MOV from CR could one
        // day write its destination).
        if case .crRead = event {} else {
            for index: UInt8 in 4..<16 {
                let r = GeneralPurposeRegister(rawValue: index)
                fuzzCheck(registers[r] == before[r], "exit \(event) changed register \(index)")
            }
        }
        // A hypercall from CPL > 0 does nothing but answer "not permitted".
        if case .hypercall = event, vcpu.cpl != 0 {
            fuzzCheck(action == .advance && registers.rax == Hypercall.notPermitted, "CPL \(vcpu.cpl) hypercall had an effect")
        }
        if case .stopGuest(let reason) = action {
            _ = reason
            dispatcher.finishGuest(console: &console, checks: &checks)
            fuzzCheck(!dispatcher.isExpectingStop, "expectation outlived its guest")
        }
    }
    _ = dispatcher.statistics.summaryLine
    var reasons = StringOutput()
    dispatcher.statistics.writeReasonLine(to: &reasons)
    _ = checks.total
    return 0
}

/// A VM exit as the VMCS would report it.
func vmxEvent(_ input: inout FuzzInput, registers: GuestRegisters) -> ExitEvent {
    // Mostly the reasons the decoder knows (0-85), sometimes any 32 bits
    // (entry failures, bits 25-29, numbers past the table).
    let selector = input.take(UInt8.self)
    var reason = UInt32(selector % 90)
    if selector >= 0xF0 { reason = input.take() }
    let fields = FakeExitInformation(
        reason: reason, qualification: input.take(), guestPhysical: input.take(),
        interruption: input.take(), errorCode: input.take(), guestLinear: input.take(), rip: input.take())
    return ExitEvent.fromVMX(VMExit.decode(fields), registers: registers)
}

/// An `ExitEvent` built directly (as an SVM decoder might).
func neutralEvent(_ kind: UInt8, _ input: inout FuzzInput) -> ExitEvent {
    switch kind % 18 {
    case 0: return .cpuid(leaf: input.take(), subleaf: input.take())
    case 1: return .msrRead(MSR(input.take(UInt32.self)))
    case 2: return .msrWrite(MSR(input.take(UInt32.self)), value: input.take())
    case 3:
        return .io(PortIO(port: input.take(), size: input.take(), isIn: input.takeBool(),
                          isString: input.takeBool(), isREP: input.takeBool(), value: input.take()))
    case 4: return .crWrite(controlRegister: input.take(), value: input.take())
    case 5: return .crRead(controlRegister: input.take(), destination: GeneralPurposeRegister(rawValue: input.take()))
    case 6: return .clts
    case 7: return .lmsw(sourceData: input.take())
    case 8: return .xsetbv(index: input.take(), value: input.take())
    case 9: return .hlt
    case 10: return .invd
    case 11: return .wbinvd
    case 12, 13: return .hypercall
    case 14:
        let address: UInt64 = input.take()
        let access = MemoryAccess(rawValue: input.take(UInt8.self) % 3) ?? .read
        let linear: UInt64? = input.takeBool() ? input.take() : nil
        return .nestedPageFault(NestedPageFault(guestPhysicalAddress: address, access: access,
                                                guestLinearAddress: linear, guestRIP: input.take()))
    case 15: return .tripleFault
    case 16: return .exception(vector: input.take(), errorCode: input.takeBool() ? input.take() : nil)
    default:
        return input.takeBool()
            ? .entryFailure(reason: input.take(), qualification: input.take())
            : .unhandled(reason: input.take(), qualification: input.take())
    }
}

/// The VM-exit information fields of one exit.
struct FakeExitInformation: ExitInformationSource {
    var reason: UInt32
    var qualification: UInt64
    var guestPhysical: UInt64
    var interruption: UInt32
    var errorCode: UInt32
    var guestLinear: UInt64
    var rip: UInt64
    func exitReason() -> UInt32 { reason }
    func exitQualification() -> UInt64 { qualification }
    func guestPhysicalAddress() -> UInt64 { guestPhysical }
    func interruptionInformation() -> UInt32 { interruption }
    func interruptionErrorCode() -> UInt32 { errorCode }
    func guestLinearAddress() -> UInt64 { guestLinear }
    func guestRIP() -> UInt64 { rip }
}

struct FuzzVCPU: GuestStateSource {
    var cr4: UInt64
    var cpl: UInt8
    var rflags: UInt64
    func guestVisibleCR4() -> UInt64 { cr4 }
    func guestCPL() -> UInt8 { cpl }
    func guestRFLAGS() -> UInt64 { rflags }
}

/// Guest RAM [0, 16 MiB) minus the hypervisor's [2 MiB, 8 MiB), reading
/// one chunk of input bytes at `address` and zeros elsewhere.
struct FuzzGuestMemory: GuestMemory {
    static let size: UInt64 = 0x100_0000
    static let hidden = PhysicalRange(start: 0x20_0000, end: 0x80_0000)
    var address: UInt64
    var bytes: [UInt8]

    func isReadable(at address: UInt64, count: UInt64) -> Bool {
        let (end, overflow) = address.addingReportingOverflow(count)
        guard !overflow, end <= Self.size else { return false }
        return count == 0 || !Self.hidden.overlaps(PhysicalRange(start: address, end: end))
    }

    func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard isReadable(at: address, count: UInt64(buffer.count)) else { return false }
        for index in 0..<buffer.count {
            let offset = (address &+ UInt64(index)) &- self.address
            buffer[index] = offset < UInt64(bytes.count) ? bytes[Int(offset)] : 0
        }
        return true
    }
}

/// Counts console bytes (the dispatcher's output is not checked).
struct CountingConsole: HypervisorConsole {
    var count = 0
    mutating func write(_ chunk: UnsafeRawBufferPointer) { count += chunk.count }
    mutating func guestOutput(_ chunk: UnsafeRawBufferPointer) { count += chunk.count }
}

/// CPUID answers: a Skylake-X-like table (as Tests/VMExitTests/Fakes.swift),
/// or answers made from 64 input bytes for any (leaf, subleaf).
struct FuzzCPU: CPUIDAccess {
    var answers: [UInt8]

    func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        guard answers.count >= 16 else { return CPUIDResult(eax: leaf == 0 ? 0xD : 0, ebx: 0, ecx: 0, edx: 0) }
        let start = Int((leaf &* 31 &+ subleaf) % UInt32(answers.count - 15))
        func word(_ i: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(answers[start + i * 4 + $1]) << (8 * $1) }
        }
        return CPUIDResult(eax: word(0), ebx: word(1), ecx: word(2), edx: word(3))
    }

    static let skylakeCache = CPUIDCache(reading: SkylakeX())

    struct SkylakeX: CPUIDAccess {
        func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
            switch (leaf, subleaf) {
            case (0, _): CPUIDResult(eax: 0x16, ebx: 0x756E_6547, ecx: 0x6C65_746E, edx: 0x4965_6E69)
            case (1, _): CPUIDResult(eax: 0x0005_0654, ebx: 0x0001_0800, ecx: 0x77FA_F3BF, edx: 0xBFEB_FBFF)
            case (4, 0): CPUIDResult(eax: 0x1C00_4121, ebx: 0x01C0_003F, ecx: 0x3F, edx: 0)
            case (7, 0): CPUIDResult(eax: 0, ebx: 0xD19F_4FBB, ecx: 0x8, edx: 0)
            case (0xB, 0): CPUIDResult(eax: 1, ebx: 1, ecx: 0x100, edx: 0)
            case (0xB, 1): CPUIDResult(eax: 4, ebx: 1, ecx: 0x201, edx: 0)
            case (0xD, 0): CPUIDResult(eax: 0x2FF, ebx: 0x240, ecx: 0xA88, edx: 0)
            case (0xD, 1): CPUIDResult(eax: 0xF, ebx: 0x240, ecx: 0, edx: 0)
            case (0xD, 2): CPUIDResult(eax: 256, ebx: 576, ecx: 0, edx: 0)
            case (0xD, 5): CPUIDResult(eax: 64, ebx: 1088, ecx: 0, edx: 0)
            case (0xD, 6): CPUIDResult(eax: 512, ebx: 1152, ecx: 0, edx: 0)
            case (0xD, 7): CPUIDResult(eax: 1024, ebx: 1664, ecx: 0, edx: 0)
            case (0x8000_0000, _): CPUIDResult(eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0)
            case (0x8000_0001, _): CPUIDResult(eax: 0, ebx: 0, ecx: 0x121, edx: 0x2C10_0800)
            default: CPUIDResult(eax: 0, ebx: 0, ecx: 0, edx: 0)
            }
        }
    }
}
