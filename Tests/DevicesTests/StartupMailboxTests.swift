import Testing
@testable import Devices

/// The INIT/STARTUP state machine one AP's vCPU shares with every sender:
/// the SDM's rules (INIT resets a running CPU into wait-for-SIPI, STARTUP
/// starts only a waiting CPU, once), with the kicks a sender owes.
@Suite struct StartupMailboxTests {
    /// Applies a post as a sender's compare-and-exchange loop would.
    static func post(_ signal: StartupSignal, _ mailbox: inout StartupMailbox) -> Bool? {
        guard let (next, kick) = mailbox.posting(signal) else { return nil }
        mailbox = next
        return kick
    }

    @Test("first start: INIT, STARTUP, STARTUP; the second STARTUP is ignored")
    func firstStart() throws {
        var mailbox = StartupMailbox.waiting
        #expect(Self.post(.initialize, &mailbox) == nil)  // already waiting: nothing to do
        #expect(Self.post(.startup(vector: 0x08), &mailbox) == true)
        #expect(mailbox.pendingStartup == 0x08 && !mailbox.isRunning)
        #expect(mailbox.takingINIT() == nil)
        // A STARTUP not yet taken: another one is ignored (the first vector wins).
        #expect(Self.post(.startup(vector: 0x09), &mailbox) == nil)
        let (started, vector) = try #require(mailbox.takingStartup())
        #expect(vector == 0x08 && started.isRunning && started.pendingStartup == nil)
        mailbox = started
        #expect(mailbox.takingStartup() == nil)
        #expect(Self.post(.startup(vector: 0x08), &mailbox) == nil)  // running: ignored
        #expect(mailbox == StartupMailbox(rawValue: 1))
    }

    @Test("restart: INIT to a running vCPU kicks it; a STARTUP before it takes the INIT waits behind it")
    func restart() throws {
        var mailbox = StartupMailbox(rawValue: 0)
        mailbox[bit: StartupMailbox.Field.running] = true
        #expect(Self.post(.initialize, &mailbox) == true)
        #expect(mailbox.hasINIT && mailbox.isRunning)
        #expect(Self.post(.initialize, &mailbox) == nil)  // one INIT pending is enough
        #expect(mailbox.takingStartup() == nil)  // still running
        #expect(Self.post(.startup(vector: 0x9F), &mailbox) == true)
        #expect(Self.post(.startup(vector: 0x9E), &mailbox) == nil)
        let waiting = try #require(mailbox.takingINIT())
        #expect(!waiting.isRunning && !waiting.hasINIT && waiting.pendingStartup == 0x9F)
        let (running, vector) = try #require(waiting.takingStartup())
        #expect(vector == 0x9F && running == StartupMailbox(rawValue: 1))
    }

    @Test("INIT withdraws a STARTUP the waiting vCPU has not taken")
    func initWithdrawsStartup() {
        var mailbox = StartupMailbox.waiting
        #expect(Self.post(.startup(vector: 0x10), &mailbox) == true)
        #expect(Self.post(.initialize, &mailbox) == false)  // changed, but the vCPU waits anyway: no kick
        #expect(mailbox == .waiting && mailbox.takingStartup() == nil)
    }

    @Test("leaving the guest on its own keeps a STARTUP posted after an INIT")
    func leaving() {
        var mailbox = StartupMailbox(rawValue: 1)
        #expect(mailbox.leavingGuest == .waiting)
        _ = Self.post(.initialize, &mailbox)
        _ = Self.post(.startup(vector: 0x20), &mailbox)
        #expect(mailbox.leavingGuest.pendingStartup == 0x20 && !mailbox.leavingGuest.isRunning)
    }

    @Test("every reachable word: the invariants hold (INIT pending only while running, vectors kept)")
    func exhaustive() {
        // Breadth-first over all words reachable from `waiting` by posts and takes.
        var seen: Set<UInt64> = [0]
        var queue: [StartupMailbox] = [.waiting]
        let signals: [StartupSignal] = [.initialize, .startup(vector: 0x08), .startup(vector: 0xFF)]
        while let mailbox = queue.popLast() {
            #expect(!mailbox.hasINIT || mailbox.isRunning, "word \(mailbox.rawValue)")
            #expect(mailbox.pendingStartup == nil || !mailbox.isRunning || mailbox.hasINIT, "word \(mailbox.rawValue)")
            var successors: [StartupMailbox] = signals.compactMap { mailbox.posting($0)?.mailbox }
            if let next = mailbox.takingINIT() { successors.append(next) }
            if let (next, _) = mailbox.takingStartup() { successors.append(next) }
            for next in successors where seen.insert(next.rawValue).inserted { queue.append(next) }
        }
        #expect(seen.count > 4 && seen.count < 16)
    }
}
