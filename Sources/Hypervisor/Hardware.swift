import Devices
import EPT
import Primitives
import VMXCore
import X86

// The real conformances of the libraries' hardware protocols: each one a
// thin forwarding to the X86 shim, specialized away by the generics.

/// Physical memory through stage 2's identity map (virtual == physical).
struct IdentityMemory: PhysicalMemory {
    func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
        T(littleEndian: UnsafeRawPointer(bitPattern: UInt(address))!.loadUnaligned(as: T.self))
    }

    func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        UnsafeMutableRawPointer(bitPattern: UInt(address))!.storeBytes(of: value.littleEndian, as: T.self)
    }

    /// One `memcpy` (the runtime's moves eight bytes per iteration): under
    /// Bochs, 10 MiB of Linux payload in 1.3 M instructions instead of 18 M
    /// through `store`.
    func storeBytes(_ bytes: UnsafeRawBufferPointer, at address: UInt64) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        pointer(address).copyMemory(from: source, byteCount: bytes.count)
    }

    /// A raw pointer to physical `address`.
    func pointer(_ address: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(address))!
    }
}

struct HardwareMSRs: MSRAccess {
    func read(_ msr: MSR) -> UInt64 { x86_rdmsr(msr.rawValue) }
    mutating func write(_ msr: MSR, _ value: UInt64) { x86_wrmsr(msr.rawValue, value) }
}

struct HardwareCPUID: CPUIDAccess {
    func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDResult {
        let r = x86_cpuid(leaf, subleaf)
        return CPUIDResult(eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx)
    }
}

struct HardwarePorts: PortIO {
    func inb(_ port: UInt16) -> UInt8 { x86_inb(port) }
    func inw(_ port: UInt16) -> UInt16 { x86_inw(port) }
    func inl(_ port: UInt16) -> UInt32 { x86_inl(port) }
    mutating func outb(_ port: UInt16, _ value: UInt8) { x86_outb(port, value) }
    mutating func outw(_ port: UInt16, _ value: UInt16) { x86_outw(port, value) }
    mutating func outl(_ port: UInt16, _ value: UInt32) { x86_outl(port, value) }
}
