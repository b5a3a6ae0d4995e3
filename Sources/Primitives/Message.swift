/// One line of diagnostic text, built without `String`.
///
/// Every diagnostic of pxHV (errors, the pre-launch checker, reports, the
/// guest-state dump) is a `Message`: static text and integers written into
/// a fixed buffer by string interpolation, so a call site reads like the
/// text it prints and costs a few calls, not a `String` with its heap,
/// reference counting and Unicode machinery:
///
///     console.line("ept: \(changed) leaves retyped, EPTP \(hex: pointer)")
///
/// Literal pieces are `StaticString`s. Integers interpolate in decimal,
/// `\(hex: value)` in lower-case hex with `0x` (`digits:` zero-pads),
/// `\(ascii: bytes)` copies bytes as they are (for names read from tables),
/// and another `Message` interpolates as its text. A line longer than
/// `capacity` keeps its first `capacity - 3` bytes and ends in `...`.
///
/// Hosted builds add `description` and string comparisons for the tests.
public struct Message: ExpressibleByStringInterpolation, Hashable, Sendable {
    /// Bytes a message holds.
    public static let capacity = 318

    @usableFromInline var storage = InlineArray<318, UInt8>(repeating: 0)
    /// Bytes used.
    public private(set) var count: UInt16 = 0
    /// Bytes were dropped (the text ends in `...`).
    public private(set) var isTruncated = false

    public init() {}

    public init(stringLiteral text: StaticString) {
        append(text)
    }

    public init(unicodeScalarLiteral text: StaticString) {
        append(text)
    }

    public init(extendedGraphemeClusterLiteral text: StaticString) {
        append(text)
    }

    public init(stringInterpolation: StringInterpolation) {
        self = stringInterpolation.message
    }

    /// The text's bytes, for the duration of `body`.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var copy = self
        return withUnsafeBytes(of: &copy.storage) { body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
    }

    public static func == (a: Message, b: Message) -> Bool {
        a.withBytes { left in b.withBytes { right in left.elementsEqual(right) } }
    }

    public func hash(into hasher: inout Hasher) {
        withBytes { hasher.combine(bytes: $0) }
    }

    // MARK: Appending

    /// (A literal, whose representation the compiler knows, costs one
    /// pointer and a call: the length is counted up to its terminating NUL.
    /// Passing the pointer, length and flags, as `withUTF8Buffer` does,
    /// cost 6 more bytes at each of some 500 call sites.)
    @inline(__always)
    public mutating func append(_ text: StaticString) {
        if text.hasPointerRepresentation {
            append(terminatedUTF8: text.utf8Start)
        } else {
            append(scalarOf: text)
        }
    }

    /// Appends the bytes before the first NUL at `start` (a `StaticString`
    /// with a pointer representation, which the compiler NUL-terminates;
    /// no diagnostic literal contains a NUL).
    @inline(never)
    @usableFromInline mutating func append(terminatedUTF8 start: UnsafePointer<UInt8>) {
        var end = start
        while end.pointee != 0 { end += 1 }
        append(bytes: UnsafeRawBufferPointer(start: start, count: end - start))
    }

    @inline(never)
    @usableFromInline mutating func append(scalarOf text: StaticString) {
        text.withUTF8Buffer { append(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// (Never inlined: `withBytes` copies the message, and inlined that
    /// was a 321-byte copy at each `\(error.message)`.)
    @_disfavoredOverload @inline(never)
    public mutating func append(_ other: Message) {
        other.withBytes { append(bytes: $0) }
        if other.isTruncated { markTruncated() }
    }

    /// Appends `bytes` unchanged.
    @inline(never)
    public mutating func append(bytes: UnsafeRawBufferPointer) {
        let room = Self.capacity - Int(count)
        let taken = min(bytes.count, room)
        if taken > 0, let source = bytes.baseAddress {
            let start = Int(count)
            withUnsafeMutableBytes(of: &storage) { $0.baseAddress!.advanced(by: start).copyMemory(from: source, byteCount: taken) }
            count += UInt16(taken)
        }
        if taken < bytes.count { markTruncated() }
    }

    public mutating func append(byte: UInt8) {
        withUnsafeBytes(of: byte) { append(bytes: $0) }
    }

    /// `value` in decimal, with a `-` when `negative` (the magnitude is
    /// `value`, so `Int64.min` prints right).
    /// (Never inlined: a call is 10 bytes, the digit loop 100 at every
    /// call site.)
    @inline(never)
    public mutating func append(decimal value: UInt64, negative: Bool = false) {
        var digits = InlineArray<21, UInt8>(repeating: 0)
        var index = 21
        var rest = value
        repeat {
            index -= 1
            digits[index] = UInt8(truncatingIfNeeded: rest % 10) &+ 0x30
            rest /= 10
        } while rest != 0
        if negative {
            index -= 1
            digits[index] = UInt8(ascii: "-")
        }
        withUnsafeBytes(of: &digits) { append(bytes: UnsafeRawBufferPointer(rebasing: $0[index...])) }
    }

    /// `0x` and lower-case hex digits of `value`, zero-padded to `digits`
    /// digits (at least one digit).
    @inline(never)
    public mutating func append(hex value: UInt64, digits: Int = 0) {
        var text = InlineArray<18, UInt8>(repeating: 0)
        var index = 18
        var rest = value
        repeat {
            index -= 1
            let nibble = UInt8(truncatingIfNeeded: rest & 0xF)
            text[index] = nibble < 10 ? nibble &+ 0x30 : nibble &+ 0x57
            rest >>= 4
        } while rest != 0 || 18 - index < min(digits, 16)
        index -= 2
        text[index] = UInt8(ascii: "0")
        text[index + 1] = UInt8(ascii: "x")
        withUnsafeBytes(of: &text) { append(bytes: UnsafeRawBufferPointer(rebasing: $0[index...])) }
    }

    /// Ends the text in `...` (the last three bytes of the buffer).
    private mutating func markTruncated() {
        isTruncated = true
        withUnsafeMutableBytes(of: &storage) { buffer in
            for index in Self.capacity - 3..<Self.capacity { buffer[index] = UInt8(ascii: ".") }
        }
        count = UInt16(Self.capacity)
    }

    // MARK: Interpolation

    public struct StringInterpolation: StringInterpolationProtocol {
        public var message = Message()

        public init(literalCapacity: Int, interpolationCount: Int) {}

        public mutating func appendLiteral(_ literal: StaticString) {
            message.append(literal)
        }

        public mutating func appendInterpolation(_ text: StaticString) {
            message.append(text)
        }

        @_disfavoredOverload
        public mutating func appendInterpolation(_ other: Message) {
            message.append(other)
        }

        @inline(__always)
        public mutating func appendInterpolation<T: BinaryInteger>(_ value: T) {
            let negative = T.isSigned && value < 0
            message.append(decimal: negative ? UInt64(truncatingIfNeeded: 0 &- Int64(truncatingIfNeeded: value))
                                             : UInt64(truncatingIfNeeded: value),
                           negative: negative)
        }

        @inline(__always)
        public mutating func appendInterpolation<T: BinaryInteger>(hex value: T, digits: Int = 0) {
            message.append(hex: UInt64(truncatingIfNeeded: value), digits: digits)
        }

        public mutating func appendInterpolation(ascii bytes: UnsafeRawBufferPointer) {
            message.append(bytes: bytes)
        }

        public mutating func appendInterpolation(_ flag: Bool) {
            let text: StaticString = flag ? "true" : "false"
            message.append(text)
        }
    }
}

/// Where text goes: the console's serial ports and screen, a test's buffer.
public protocol TextOutput {
    mutating func write(_ bytes: UnsafeRawBufferPointer)
}

extension TextOutput {
    public mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { write(UnsafeRawBufferPointer($0)) }
    }

    @_disfavoredOverload @inline(never)
    public mutating func write(_ message: Message) {
        message.withBytes { write($0) }
    }
}

#if !hasFeature(Embedded)
extension Message: CustomStringConvertible {
    public var description: String {
        withBytes { String(decoding: $0, as: UTF8.self) }
    }

    public func contains(_ text: String) -> Bool { description.contains(text) }
    public func hasPrefix(_ text: String) -> Bool { description.hasPrefix(text) }
    public func hasSuffix(_ text: String) -> Bool { description.hasSuffix(text) }
}

/// Text collected into a `String`, for tests.
public struct StringOutput: TextOutput {
    public var text = ""
    public init() {}
    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        text += String(decoding: bytes, as: UTF8.self)
    }
}
#endif
