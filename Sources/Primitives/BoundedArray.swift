/// Elements a `BoundedArray` can hold: they name the value that fills
/// unused slots, because `InlineArray` has no uninitialized storage.
public protocol BoundedArrayElement {
    static var placeholder: Self { get }
}

/// Appending to a full `BoundedArray`.
public struct CapacityExceeded: Error, Equatable, Sendable {
    public init() {}
}

/// An array with a fixed capacity stored inline (no heap).
///
/// Memory maps, free lists and EPT layouts live in these so that the
/// allocator and the EPT builder never call into the Swift heap, which the
/// bare-metal program may not have yet when it builds them. The storage is
/// `capacity * MemoryLayout<Element>.stride` bytes wherever the value lives
/// (stack or a static), so capacities are chosen per use, not generously.
///
/// Reading elements: Swift 6.3 (checked with `-Osize` for
/// x86_64-unknown-none-elf) copies the whole inline storage to the stack to
/// read an element through a non-mutating access, and inside a loop it
/// does so on every iteration (an 8 KiB `rep movsb` per element was seen).
/// So library code reads through `withElements` (one copy per call) or, in
/// mutating code, `withMutableElements` (in place, no copy). The
/// `Collection` conformance is for tests and one-off reads.
public struct BoundedArray<let capacity: Int, Element: BoundedArrayElement> {
    @usableFromInline var storage: InlineArray<capacity, Element>
    public private(set) var count: Int

    public init() {
        storage = InlineArray(repeating: .placeholder)
        count = 0
    }

    public var isFull: Bool { count == capacity }

    /// Calls `body` with the elements. Non-mutating, so the storage is
    /// copied once (see the type's notes); the loop in `body` is copy-free.
    public func withElements<Result, E: Error>(
        _ body: (UnsafeBufferPointer<Element>) throws(E) -> Result
    ) throws(E) -> Result {
        let count = self.count
        return try withUnsafePointer(to: storage) { (slots) throws(E) -> Result in
            try body(UnsafeBufferPointer(start: UnsafeRawPointer(slots).assumingMemoryBound(to: Element.self), count: count))
        }
    }

    /// Calls `body` with the elements of the array at `array`, read in
    /// place: no copy, for code that holds a large array (or a struct that
    /// starts with one) by address, such as the exit path. `storage` is the
    /// first stored property, at offset 0 (BoundedArrayTests checks it).
    @inline(__always)
    public static func withElements<Result, E: Error>(
        at array: UnsafePointer<Self>, _ body: (UnsafeBufferPointer<Element>) throws(E) -> Result
    ) throws(E) -> Result {
        try body(UnsafeBufferPointer(
            start: UnsafeRawPointer(array).assumingMemoryBound(to: Element.self), count: array.pointee.count))
    }

    /// Calls `body` with the elements in place (no copy). `body` may change
    /// elements but not the count.
    public mutating func withMutableElements<Result, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Element>) throws(E) -> Result
    ) throws(E) -> Result {
        let count = self.count
        return try withSlots { (slots) throws(E) -> Result in
            try body(UnsafeMutableBufferPointer(start: slots, count: count))
        }
    }

    /// All `capacity` slots, in place.
    private mutating func withSlots<Result, E: Error>(
        _ body: (UnsafeMutablePointer<Element>) throws(E) -> Result
    ) throws(E) -> Result {
        try withUnsafeMutablePointer(to: &storage) { (slots) throws(E) -> Result in
            try body(UnsafeMutableRawPointer(slots).assumingMemoryBound(to: Element.self))
        }
    }

    /// Appends `element`, or throws when all `capacity` slots are used.
    public mutating func append(_ element: Element) throws(CapacityExceeded) {
        try insert(element, at: count)
    }

    /// Inserts `element` at `index`, shifting later elements up.
    public mutating func insert(_ element: Element, at index: Int) throws(CapacityExceeded) {
        precondition(index >= 0 && index <= count, "index out of range")
        guard count < capacity else { throw CapacityExceeded() }
        let count = self.count
        withSlots { slots in
            var i = count
            while i > index {
                slots[i] = slots[i - 1]
                i -= 1
            }
            slots[index] = element
        }
        self.count += 1
    }

    /// Removes and returns the element at `index`, shifting later ones down.
    @discardableResult
    public mutating func remove(at index: Int) -> Element {
        precondition(index >= 0 && index < count, "index out of range")
        let count = self.count
        let removed = withSlots { slots in
            let removed = slots[index]
            var i = index
            while i < count - 1 {
                slots[i] = slots[i + 1]
                i += 1
            }
            slots[count - 1] = .placeholder
            return removed
        }
        self.count -= 1
        return removed
    }

    public mutating func removeAll() {
        withMutableElements { elements in
            for i in elements.indices { elements[i] = .placeholder }
        }
        count = 0
    }

    /// Sorts in place by `areInIncreasingOrder`.
    ///
    /// Insertion sort: stable, no scratch buffer (the standard library's
    /// sort may allocate one), and fast for the few dozen entries of a real
    /// memory map.
    public mutating func sort(by areInIncreasingOrder: (Element, Element) -> Bool) {
        withMutableElements { elements in
            var i = 1
            while i < elements.count {
                let element = elements[i]
                var j = i
                while j > 0 && areInIncreasingOrder(element, elements[j - 1]) {
                    elements[j] = elements[j - 1]
                    j -= 1
                }
                elements[j] = element
                i += 1
            }
        }
    }
}

extension BoundedArray: RandomAccessCollection, MutableCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// One element. A non-mutating read copies the storage (see the type's
    /// notes): fine for one-off reads, not for loops in library code.
    public subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < count, "index out of range")
            return storage[position]
        }
        set {
            precondition(position >= 0 && position < count, "index out of range")
            withSlots { $0[position] = newValue }
        }
    }
}

extension BoundedArray: ExpressibleByArrayLiteral {
    /// Builds the array from a literal; more than `capacity` elements trap.
    /// (The literal is a construction-time convenience: in Embedded Swift
    /// it goes through a heap-allocated variadic array.)
    public init(arrayLiteral elements: Element...) {
        self.init()
        for element in elements {
            do throws(CapacityExceeded) { try append(element) } catch {
                fatalError("BoundedArray literal exceeds its capacity")
            }
        }
    }
}

extension BoundedArray: Equatable where Element: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.withElements { left in rhs.withElements { right in left.elementsEqual(right) } }
    }
}

extension BoundedArray: Sendable where Element: Sendable {}
