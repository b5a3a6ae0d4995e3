import EPT
import Loader
import Primitives
import SVMCore
import VMExit
import VMXCore
import X86

/// AMD-V: SVM enabled, the APs parked, the nested page tables, the guests,
/// SVM disabled. The counterpart of `runOnVMX`.
func runOnSVM(manifest: PayloadManifest, platform: inout Platform, memory: IdentityMemory) {
    let root = SVMRoot.enter(allocator: &platform.allocator, memory: memory)
    Timeline.noteVMXON()
    root.capabilities.report { console.line($0) }
    Processors.startAll(platform: &platform, memory: memory)
    let guestMemory = NestedGuestMemory(platform: &platform, capabilities: root.capabilities, memory: memory)
    Timeline.noteGuestMemory()
    runPanicTests(manifest)
    // The TSC rate, for reading the guests' exit benchmarks (TSC cycles) as time.
    let tscPerSlice = LivenessTimer.tscTicks(overMilliseconds: LivenessTimer.sliceMilliseconds)
    console.line(
        "timer: TSC \(tscPerSlice * (1000 / LivenessTimer.sliceMilliseconds) / 1_000_000) MHz (PIT-calibrated); AMD-V has no preemption timer: a guest spinning with interrupts off keeps the CPU")
    let backend = SVMBackend(root: root, guestMemory: guestMemory)
    if manifest.entry(.hostileGuest) != nil {
        HostileSuite.run(manifest: manifest, backend: backend, platform: &platform, memory: memory)
    }
    runGuests(manifest: manifest, backend: backend, hidden: guestMemory.hidden, platform: &platform, memory: memory)
    root.leave()
}

/// AMD-V: SVM on this CPU and the nested page tables.
struct SVMBackend: GuestBackend {
    let root: SVMRoot
    let guestMemory: NestedGuestMemory

    func makeSession(platform: inout Platform, memory: IdentityMemory) -> SVMGuestSession {
        SVMGuestSession(root: root, platform: &platform, guestMemory: guestMemory, memory: memory)
    }
}

/// What every guest run on this CPU shares under AMD-V: the dispatcher
/// (the same policies as VT-x), the MSR and I/O permission maps, the
/// nested page tables.
struct SVMGuestSession: VirtualizationSession {
    var dispatcher: Dispatcher<CPUIDCache>
    var checks = FixedCheckRecorder()
    let root: SVMRoot
    let msrpm: UInt64
    let iopm: UInt64
    let nestedCR3: UInt64
    let ram: GuestRAM

    init(root: SVMRoot, platform: inout Platform, guestMemory: NestedGuestMemory, memory: IdentityMemory) {
        // Under nested paging the guest's PAT is the VMCB's G_PAT, which
        // VMRUN and #VMEXIT switch: the MSR policy emulates the MSR and the
        // backend mirrors it into G_PAT.
        let policies = GuestPolicies(platform: platform, hidden: guestMemory.hidden, patIsSwitched: false)
        dispatcher = policies.dispatcher
        guard let maps = try? platform.allocator.allocate(pages: 5) else { fatal("svm: no pages for the MSR and I/O permission maps") }
        msrpm = maps
        iopm = maps + 0x2000
        SVMPermissionMaps.fillMSRPM(UnsafeMutableRawBufferPointer(start: memory.pointer(msrpm), count: SVMPermissionMaps.msrpmSize))
        let io = UnsafeMutableRawBufferPointer(start: memory.pointer(iopm), count: SVMPermissionMaps.iopmSize)
        SVMPermissionMaps.fillIOPM(io, policy: policies.io)
        // PCI CONFIG_ADDRESS always exits; CONFIG_DATA only while it selects
        // the PM function (as under VT-x).
        for port in PCIConfigPolicy.addressPorts { io[Int(port) / 8] |= 1 << UInt8(port % 8) }
        self.root = root
        nestedCR3 = guestMemory.nestedCR3
        ram = GuestRAM(map: platform.map, hidden: guestMemory.hidden)
    }

    /// The intercepts every guest gets. AMD APM Vol. 2, "Instruction
    /// Intercepts" (15.9 in rev. 3.42) and "VMCB Layout, Control Area":
    /// INIT, CPUID, INVD, HLT, I/O (through the IOPM), MSRs (through the
    /// MSRPM), SHUTDOWN (a triple fault); VMRUN (which VMRUN requires),
    /// VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA (the policy gives
    /// the guest #UD), WBINVD, XSETBV.
    static let vector3: SVMInterceptVector3 = [
        .initSignal, .cpuid, .invd, .hlt, .invlpga, .ioioProtection, .msrProtection, .shutdown,
    ]
    static let vector4: SVMInterceptVector4 = [
        .vmrun, .vmmcall, .vmload, .vmsave, .stgi, .clgi, .skinit, .wbinvd, .xsetbv,
    ]

    /// A vCPU on a fresh VMCB for `guest` (`VMCBLayout.makeVCPU`), ASID
    /// `vpid` (never 0: ASID 0 is the host's).
    func makeVCPU(
        guest: VMCSGuestState, longModeGuest: Bool, vpid: UInt16, platform: inout Platform, memory: IdentityMemory
    ) throws(GuestStartFailure) -> SVMVCPU {
        guard let address = platform.allocator.allocatePage() else { fatal("svm: no page for a VMCB") }
        return try layout(asid: UInt32(max(vpid, 1))).makeVCPU(
            at: address, guest: guest, hasNextRIPSave: root.capabilities.features.contains(.nextRIPSave),
            physicalAddressWidth: Int(root.capabilities.physicalAddressBits))
    }

    /// What every VMCB of this session holds but the guest state: the
    /// intercepts, the permission maps, the nested page tables, the ASID.
    func layout(asid: UInt32) -> VMCBLayout {
        VMCBLayout(iopm: iopm, msrpm: msrpm, nestedCR3: nestedCR3, hostState: root.hostState, asid: asid)
    }

    /// A VMCB's control area for this session, and the vCPU on it (the
    /// boot CPU's, or an AP's: `SVMAPGuest`, which allocates nothing there).
    struct VMCBLayout {
        var iopm: UInt64
        var msrpm: UInt64
        var nestedCR3: UInt64
        var hostState: UInt64
        var asid: UInt32

        /// A vCPU on the VMCB page at `address` (zeroed here) for `guest`:
        /// intercepts, permission maps, the ASID, a full TLB flush at the
        /// first VMRUN, nested paging, the guest state; checked by the
        /// pre-VMRUN checker before it is ever run.
        func makeVCPU(
            at address: UInt64, guest: VMCSGuestState, hasNextRIPSave: Bool, physicalAddressWidth: Int
        ) throws(GuestStartFailure) -> SVMVCPU {
            if x86_read_cr4() & CR4.osxsave.rawValue != 0 { x86_xsetbv(0, XSETBVPolicy.resetXCR0) }
            var vmcb = VMCBPage(UnsafeMutableRawPointer(bitPattern: UInt(address))!)
            vmcb.zero()
            vmcb.write(VMCB.interceptVector3, SVMGuestSession.vector3.rawValue)
            vmcb.write(VMCB.interceptVector4, SVMGuestSession.vector4.rawValue)
            vmcb.write(VMCB.iopmBasePA, iopm)
            vmcb.write(VMCB.msrpmBasePA, msrpm)
            vmcb.write(VMCB.guestASID, asid)
            vmcb.write(VMCB.tlbControl, TLBControl.flushAll.rawValue)
            vmcb.write(VMCB.nestedPagingControl, 1)  // NP_ENABLE
            vmcb.write(VMCB.nestedCR3, nestedCR3)
            // The architectural start state in SVM's form (EFER.SVME added,
            // attributes packed); G_PAT the reset PAT (the policy's value is
            // mirrored at launch).
            SVMGuestState(guest).write(to: &vmcb)
            if let failure = VMRUNChecker.check(vmcb, physicalAddressWidth: physicalAddressWidth) {
                throw GuestStartFailure(message: failure.message)
            }
            return SVMVCPU(
                vmcbAddress: address, hostState: hostState, iopm: iopm, hasNextRIPSave: hasNextRIPSave,
                physicalAddressWidth: physicalAddressWidth)
        }
    }

    /// The parked APs as vCPUs of the guest `vcpu` starts, waiting for its
    /// STARTUP in their park guests (`SVMAPGuest`); the guest's writes to
    /// the local APIC trapped first (its leaf read-only in the nested page
    /// tables), for the APs' vCPUs and `vcpu`, whose NMIs now exit to this
    /// CPU's park guest (kicks: an AP's stop reaches the boot CPU so).
    /// Needs the xAPIC.
    mutating func startApplicationProcessors(for vcpu: inout SVMVCPU, platform: inout Platform, memory: IdentityMemory) -> Int {
        guard !Processors.started.isEmpty else { return 0 }
        let apic = LocalAPIC.current()
        guard !apic.isX2APIC else {
            console.line("cpu: the local APIC is in x2APIC mode (no xAPIC page to trap): the APs stay parked")
            return 0
        }
        guard let sink = Self.bootParkGuest(root: root, platform: &platform),
            protectLocalAPIC(true, page: apic.base, platform: &platform)
        else { return 0 }
        dispatcher.nestedPageFaults.localAPICPage = apic.base
        let session = self
        let launched = APGuest.launch(apicPage: apic.base, waitingIn: "in their park guests", platform: &platform) { ap, trap, platform in
            SVMAPGuest.prepare(ap, session: session, trap: trap, platform: &platform, memory: memory)
                .map { UInt64(UInt(bitPattern: $0)) }
        }
        guard let trap = launched else {
            stopTrappingLocalAPIC(platform: &platform)
            return 0
        }
        vcpu.takeNMIs(in: sink)
        vcpu.localAPICTrap = trap
        // The boot CPU's TLB may hold the APIC page writable.
        vcpu.vmcb.write(VMCB.tlbControl, TLBControl.flushAll.rawValue)
        return trap.directory.count
    }

    mutating func stopApplicationProcessors(platform: inout Platform) {
        APGuest.stopAll(SVMAPGuest.Context.self, checks: &checks)
        stopTrappingLocalAPIC(platform: &platform)
    }

    /// The local APIC page read/write again; its writes no longer emulated.
    /// (Every later vCPU's VMCB flushes its ASID at its first VMRUN.)
    private mutating func stopTrappingLocalAPIC(platform: inout Platform) {
        guard let page = dispatcher.nestedPageFaults.localAPICPage else { return }
        dispatcher.nestedPageFaults.localAPICPage = nil
        _ = protectLocalAPIC(false, page: page, platform: &platform)
    }

    /// The local APIC's page read-only (or back to read/write/execute) in
    /// the nested page tables (`LocalAPICTrap.protect`). Every VMCB that
    /// runs on them flushes its ASID at its first VMRUN (the boot CPU's:
    /// `startApplicationProcessors`).
    private func protectLocalAPIC(_ readOnly: Bool, page: UInt64, platform: inout Platform) -> Bool {
        LocalAPICTrap.protect(
            readOnly, page: page, in: NPTEntry.self, pml4: NestedCR3(rawValue: nestedCR3).pml4Address,
            allocator: &platform.allocator)
    }

    /// The boot CPU's park guest (a VMCB and a stack page, allocated once),
    /// where its NMIs are taken while it runs an SMP guest.
    nonisolated(unsafe) private static var bootPark: SVMParkGuest?

    private static func bootParkGuest(root: SVMRoot, platform: inout Platform) -> SVMParkGuest? {
        if let park = bootPark { return park }
        guard let pages = try? platform.allocator.allocate(pages: 2) else {
            console.line("cpu: no pool pages for the boot CPU's park guest: the APs stay parked")
            return nil
        }
        let park = SVMParkGuest(vmcb: pages, stack: pages + Page.size, hostState: root.hostState, asid: SVMParkGuest.asid(root.capabilities))
        bootPark = park
        return park
    }

    /// Runs `vcpu` until its guest stops and reports why.
    mutating func run(_ vcpu: inout SVMVCPU) {
        dispatcher.msr.startGuest()
        dispatcher.io.startGuest()
        let reason = vcpu.run(dispatcher: &dispatcher, memory: ram, checks: &checks)
        Timeline.noteGuestStop()
        report(reason, vcpu: vcpu)
    }

    /// One line on why the guest stopped, and the state that explains it.
    func report(_ reason: StopReason, vcpu: SVMVCPU) {
        guard !reportStop(reason, nestedTables: "NPT") else { return }
        let v = vcpu.vmcb
        let r = vcpu.registers
        console.line("guest: stopped: \(reason.name) at RIP \(hex: v.read(VMCB.rip))")
        console.line("guest: exit code \(hex: v.read(VMCB.exitCode)) EXITINFO1 \(hex: v.read(VMCB.exitInfo1)) EXITINFO2 \(hex: v.read(VMCB.exitInfo2)) EXITINTINFO \(hex: v.read(VMCB.exitInterruptInfo))")
        console.line("guest: RIP \(hex: v.read(VMCB.rip)) RSP \(hex: v.read(VMCB.rsp)) RFLAGS \(hex: v.read(VMCB.rflags)) CR0 \(hex: v.read(VMCB.cr0)) CR3 \(hex: v.read(VMCB.cr3)) CR4 \(hex: v.read(VMCB.cr4))")
        console.line("guest: CS \(hex: v.read(VMCB.cs.selector)) base \(hex: v.read(VMCB.cs.base)) attributes \(hex: v.read(VMCB.cs.attributes)) EFER \(hex: v.read(VMCB.efer))")
        console.line("guest: RAX \(hex: r.rax) RBX \(hex: r.rbx) RCX \(hex: r.rcx) RDX \(hex: r.rdx) RSI \(hex: r.rsi) RDI \(hex: r.rdi) RBP \(hex: r.rbp)")
    }
}
