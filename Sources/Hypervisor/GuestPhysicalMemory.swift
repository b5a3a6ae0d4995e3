import EPT
import Loader
import Primitives
import SVMCore
import VMXCore

/// The guest's physical address space: every RAM and MMIO address
/// identity-mapped through EPT (RAM write-back, the rest uncacheable),
/// except the hypervisor's own region, which is left unmapped so that a
/// guest touching it takes an EPT violation the hypervisor reports.
struct GuestPhysicalMemory {
    /// What the guest must never see: [payload base, end of the pool).
    let hidden: PhysicalRange
    /// `hidden` and the hypervisor's pages below 1 MiB: all unmapped.
    let hiddenRanges: PhysicalRangeList
    let pointer: EPTPointer
    let tablePages: Int
    let leafCounts: EPTLeafCounts

    init(platform: inout Platform, capabilities: VMXCapabilities, memory: IdentityMemory) {
        hidden = platform.hiddenFromGuests
        hiddenRanges = platform.hiddenRanges
        guard capabilities.supportsUsableEPT else {
            fatal("ept: the CPU's EPT lacks 4-level walks or write-back tables (IA32_VMX_EPT_VPID_CAP \(hex: capabilities.eptVPID.rawValue))")
        }
        let layout: EPTIdentityLayout
        do {
            layout = try EPTIdentityLayout(map: platform.map, hiding: hiddenRanges)
        } catch {
            fatal("\(error.message)")
        }
        do {
            var builder = try EPTBuilder(memory: memory, supports1GiB: capabilities.supportsEPT1GiBPages, pages: &platform.allocator)
            try builder.map(layout, pages: &platform.allocator)
            pointer = builder.pointer(memoryType: .writeBack)
            tablePages = builder.tablePages
            leafCounts = builder.leafCounts
        } catch {
            fatal("\(error.message)")
        }
        HostIsolation.verify(ept: pointer, platform: platform, memory: memory)
        console.line(
            "ept: identity map, hypervisor \(hex: hidden.start)-\(hex: hidden.end)\(hiddenRanges.count > 1 ? " and \(hiddenRanges.count - 1) low page(s)" : "") unmapped; \(tablePages) table pages, leaves 1G=\(leafCounts.size1GiB) 2M=\(leafCounts.size2MiB) 4K=\(leafCounts.size4KiB); EPTP \(hex: pointer.rawValue)"
        )
    }
}

/// The guest's physical address space under AMD-V: the same identity layout
/// (`EPTIdentityLayout`, the same hidden ranges) through nested page
/// tables, and the same isolation proof before any guest runs.
struct NestedGuestMemory {
    let hidden: PhysicalRange
    let hiddenRanges: PhysicalRangeList
    let nestedCR3: UInt64
    let tablePages: Int
    let leafCounts: NPTLeafCounts

    init(platform: inout Platform, capabilities: SVMCapabilities, memory: IdentityMemory) {
        hidden = platform.hiddenFromGuests
        hiddenRanges = platform.hiddenRanges
        let layout: EPTIdentityLayout
        do {
            layout = try EPTIdentityLayout(map: platform.map, hiding: hiddenRanges)
        } catch {
            fatal("\(error.message)")
        }
        // 1 GiB leaves need CPUID 80000001h:EDX.Page1GB (bit 26).
        let supports1GiB = HardwareCPUID().cpuid(leaf: 0x8000_0001).edx & (1 << 26) != 0
        let root: NestedCR3
        do {
            var builder = try NPTBuilder(memory: memory, supports1GiB: supports1GiB, pages: &platform.allocator)
            try builder.map(layout, pages: &platform.allocator)
            root = builder.nestedCR3
            tablePages = builder.tablePages
            leafCounts = builder.leafCounts
        } catch {
            fatal("\(error.message)")
        }
        nestedCR3 = root.rawValue
        HostIsolation.verify(npt: root, platform: platform, memory: memory)
        console.line(
            "npt: identity map, hypervisor \(hex: hidden.start)-\(hex: hidden.end)\(hiddenRanges.count > 1 ? " and \(hiddenRanges.count - 1) low page(s)" : "") unmapped; \(tablePages) table pages, leaves 1G=\(leafCounts.size1GiB) 2M=\(leafCounts.size2MiB) 4K=\(leafCounts.size4KiB); nCR3 \(hex: nestedCR3)"
        )
    }
}
