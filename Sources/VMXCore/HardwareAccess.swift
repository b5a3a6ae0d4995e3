/// Reads and writes model-specific registers.
///
/// `Hypervisor/` conforms over RDMSR/WRMSR; tests conform with a table of
/// values (see `Tests/VMXCoreTests/BochsSkylakeX.swift`). Code that needs it
/// is generic (`func f<M: MSRAccess>(_ msrs: M)`): Embedded Swift has no
/// `any MSRAccess`.
public protocol MSRAccess {
    /// RDMSR: the 64-bit value of `msr` (EDX:EAX).
    func read(_ msr: MSR) -> UInt64
    /// WRMSR: writes `value` to `msr`.
    mutating func write(_ msr: MSR, _ value: UInt64)
}

/// The four registers CPUID returns.
public struct CPUIDResult: Equatable, Sendable {
    public var eax: UInt32
    public var ebx: UInt32
    public var ecx: UInt32
    public var edx: UInt32

    public init(eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        self.eax = eax
        self.ebx = ebx
        self.ecx = ecx
        self.edx = edx
    }
}

/// Executes CPUID. `Hypervisor/` conforms over the instruction, tests with a table.
public protocol CPUIDAccess {
    /// CPUID with EAX = `leaf`, ECX = `subleaf`.
    func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDResult
}

extension CPUIDAccess {
    /// CPUID with subleaf 0.
    public func cpuid(leaf: UInt32) -> CPUIDResult { cpuid(leaf: leaf, subleaf: 0) }
}
