import Primitives

/// A `CheckRecorder` with fixed storage: pass/fail counts and the names of
/// up to `failedNameCapacity` failed checks in a `namePoolSize`-byte pool.
/// Recording is allocation-free; names that do not fit any more are
/// counted in `droppedFailedNames` (and a name is cut at the pool's end).
public struct FixedCheckRecorder: CheckRecorder {
    public static let failedNameCapacity = 32
    public static let namePoolSize = 2048

    public private(set) var passed: Int = 0
    public private(set) var failed: Int = 0
    /// Failed checks whose names were not kept.
    public private(set) var droppedFailedNames: Int = 0

    private var pool: InlineArray<2048, UInt8>
    private var poolUsed: Int = 0
    private var nameStart: InlineArray<32, UInt16>
    private var nameLength: InlineArray<32, UInt16>
    /// Failed names kept (<= `failedNameCapacity`).
    public private(set) var failedNameCount: Int = 0

    public init() {
        pool = InlineArray(repeating: 0)
        nameStart = InlineArray(repeating: 0)
        nameLength = InlineArray(repeating: 0)
    }

    public var total: Int { passed + failed }

    public mutating func record(passed isPass: Bool, name: UnsafeRawBufferPointer) {
        if isPass { passed += 1; return }
        failed += 1
        guard failedNameCount < Self.failedNameCapacity, poolUsed < Self.namePoolSize else {
            droppedFailedNames += 1
            return
        }
        let length = min(name.count, Self.namePoolSize - poolUsed)
        for index in 0..<length { pool[poolUsed + index] = name[index] }
        nameStart[failedNameCount] = UInt16(poolUsed)
        nameLength[failedNameCount] = UInt16(length)
        poolUsed += length
        failedNameCount += 1
    }

    /// The `index`th kept failed name's bytes, for the duration of `body`.
    public func withFailedName<R>(at index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(index >= 0 && index < failedNameCount, "no such failed check")
        let start = Int(nameStart[index])
        let length = Int(nameLength[index])
        var copy = pool
        return withUnsafeBytes(of: &copy) { body(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
    }

    /// `guest result: PASS <n>/<n>` or `guest result: FAIL <k>/<n>`.
    public var resultLine: Message {
        failed == 0 ? "guest result: PASS \(passed)/\(total)" : "guest result: FAIL \(failed)/\(total)"
    }

    /// `guest: failed: <name>` for each kept failed name, in order (the
    /// names escaped as the console escapes guest bytes).
    public func forEachFailedLine(_ body: (Message) -> Void) {
        for index in 0..<failedNameCount {
            var line: Message = "guest: failed: "
            withFailedName(at: index) { name in GuestText.escape(name) { line.append(bytes: $0) } }
            body(line)
        }
    }
}
