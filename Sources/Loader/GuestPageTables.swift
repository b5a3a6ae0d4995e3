import EPT
import Primitives

/// Identity page tables for a guest that starts in 64-bit mode (a test
/// guest, or Linux through its 64-bit entry): 4-level paging, 2 MiB pages,
/// covering [0, gibibytes GiB), present + writable + supervisor.
///
/// Intel SDM Vol. 3A, "4-Level Paging and 5-Level Paging" (4.5 in rev. 84):
/// PML4E -> PDPTE -> PDE with PS=1 maps 2 MiB. 2 MiB pages work on every
/// 64-bit CPU (1 GiB pages need CPUID.80000001H:EDX.Page1GB).
public struct GuestPageTables {
    public static let present: UInt64 = 1 << 0
    public static let writable: UInt64 = 1 << 1
    public static let pageSize: UInt64 = 1 << 7

    /// The guest's CR3 (the PML4's address).
    public let cr3: UInt64
    /// Bytes of guest memory the tables occupy from `cr3`.
    public let size: UInt64

    /// Writes the tables at `base` (4 KiB-aligned, in guest memory): PML4,
    /// one PDPT, then one page directory per GiB.
    public init<Memory: PhysicalMemory>(identityMapping gibibytes: Int, at base: UInt64, in memory: inout Memory) {
        precondition(base & 0xFFF == 0 && gibibytes >= 1 && gibibytes <= 512)
        let pml4 = base, pdpt = base + 0x1000, firstDirectory = base + 0x2000
        let flags = Self.present | Self.writable
        for index in 0..<512 {
            memory.store(index == 0 ? pdpt | flags : 0, at: pml4 + UInt64(index) * 8)
            let directory = firstDirectory + UInt64(index) * 0x1000
            memory.store(index < gibibytes ? directory | flags : 0, at: pdpt + UInt64(index) * 8)
        }
        for gib in 0..<gibibytes {
            let directory = firstDirectory + UInt64(gib) * 0x1000
            for index in 0..<512 {
                let address = UInt64(gib) << 30 | UInt64(index) << 21
                memory.store(address | flags | Self.pageSize, at: directory + UInt64(index) * 8)
            }
        }
        cr3 = pml4
        size = 0x2000 + UInt64(gibibytes) * 0x1000
    }
}
