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

    /// A vCPU on a fresh VMCB for `guest`: intercepts, permission maps,
    /// ASID `vpid` (never 0: ASID 0 is the host's), a full TLB flush at the
    /// first VMRUN, nested paging, the guest state; checked by the
    /// pre-VMRUN checker before it is ever run.
    func makeVCPU(
        guest: VMCSGuestState, longModeGuest: Bool, vpid: UInt16, platform: inout Platform, memory: IdentityMemory
    ) throws(GuestStartFailure) -> SVMVCPU {
        if x86_read_cr4() & CR4.osxsave.rawValue != 0 { x86_xsetbv(0, XSETBVPolicy.resetXCR0) }
        guard let address = platform.allocator.allocatePage() else { fatal("svm: no page for a VMCB") }
        var vmcb = VMCBPage(memory.pointer(address))
        vmcb.zero()
        vmcb.write(VMCB.interceptVector3, Self.vector3.rawValue)
        vmcb.write(VMCB.interceptVector4, Self.vector4.rawValue)
        vmcb.write(VMCB.iopmBasePA, iopm)
        vmcb.write(VMCB.msrpmBasePA, msrpm)
        vmcb.write(VMCB.guestASID, UInt32(max(vpid, 1)))
        vmcb.write(VMCB.tlbControl, TLBControl.flushAll.rawValue)
        vmcb.write(VMCB.nestedPagingControl, 1)  // NP_ENABLE
        vmcb.write(VMCB.nestedCR3, nestedCR3)
        // The architectural start state in SVM's form (EFER.SVME added,
        // attributes packed); G_PAT the reset PAT (the policy's value is
        // mirrored at launch).
        SVMGuestState(guest).write(to: &vmcb)
        if let failure = root.check(vmcb) {
            throw GuestStartFailure(message: failure.message)
        }
        return SVMVCPU(
            vmcbAddress: address, hostState: root.hostState, iopm: iopm,
            hasNextRIPSave: root.capabilities.features.contains(.nextRIPSave),
            physicalAddressWidth: Int(root.capabilities.physicalAddressBits))
    }

    /// Runs `vcpu` until its guest stops and reports why.
    /// AMD-V has no wait-for-SIPI state: the APs stay parked in their own
    /// SVM guests (`Processors`), and this guest runs on the boot CPU alone.
    mutating func startApplicationProcessors(for vcpu: inout SVMVCPU, platform: inout Platform, memory: IdentityMemory) -> Int {
        if !Processors.started.isEmpty { console.line("cpu: AMD-V: the APs stay parked; the guest runs on the boot CPU alone") }
        return 0
    }

    mutating func stopApplicationProcessors(platform: inout Platform) {}

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
