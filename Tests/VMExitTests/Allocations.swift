import AllocationCounting
import Foundation
import Testing

/// Heap allocations made by the calling thread (Tests/AllocationCounting:
/// malloc and its siblings replaced, for this test process, by counting
/// wrappers around glibc's). Per thread, so a test measures its own code
/// and not the other tests that `swift test` runs in parallel; per call, so
/// an allocation freed at once counts as much as one that is kept.
///
/// Warm the measured code up first, through every path the measurement
/// takes: the debug build's runtime allocates once per generic type the
/// first time it instantiates its metadata (seen: a warm-up that missed two
/// of the hypercalls left 3-7 allocations in swift_getFixedArrayTypeMetadata
/// in the measured loop, whenever no other test had taken those paths first).
enum Allocations {
    /// Counted on this platform (Linux with glibc).
    static var areCounted: Bool { pxhv_allocations_on_this_thread() >= 0 }

    /// The allocations `body` made on this thread.
    static func during(_ body: () throws -> Void) throws -> Int64 {
        let before = pxhv_allocations_on_this_thread()
        try body()
        let after = pxhv_allocations_on_this_thread()
        return after - before
    }

    /// The control: an allocation the compiler cannot remove must count, or
    /// a zero from `during` would prove nothing (say, if the dynamic linker
    /// did not route malloc to the counting wrappers).
    static func checkTheCounterCounts(sourceLocation: SourceLocation = #_sourceLocation) throws {
        var kept = 0
        let seen = try during {
            let bytes = [UInt8](repeating: 7, count: 1000 + Int(pxhv_allocations_on_this_thread() & 1))
            kept = bytes.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } & 1
        }
        #expect(seen >= 1, "the allocation counter saw none of a 1000-byte array's (\(kept))", sourceLocation: sourceLocation)
    }
}

@Suite("Allocation counter")
struct AllocationCounterTests {
    @Test("a String built and dropped counts (bytes in use would not show it)", .enabled(if: Allocations.areCounted))
    func transientAllocationsCount() throws {
        var length = 0
        let seen = try Allocations.during {
            for index in 0..<100 {
                let text = "a line long enough to live on the heap, number \(index)"
                length += text.utf8.count
            }
        }
        #expect(seen >= 100, "\(seen) allocations for 100 strings (\(length) bytes)")
    }

    @Test("another thread's allocations do not count on this one", .enabled(if: Allocations.areCounted))
    func otherThreadsDoNotCount() throws {
        let finished = DispatchSemaphore(value: 0)
        let worker = Thread {
            var kept: [[UInt8]] = []
            for index in 0..<10_000 { kept.append([UInt8](repeating: UInt8(index & 0xFF), count: 64)) }
            if kept.count == 10_000 { finished.signal() }
        }
        worker.start()
        let seen = try Allocations.during { finished.wait() }
        #expect(seen == 0, "\(seen) allocations counted here while another thread made 10,000")
    }
}
