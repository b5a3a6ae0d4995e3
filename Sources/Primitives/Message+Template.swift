/// Diagnostics as templates: a static text with placeholders and up to
/// four values, rendered by one function that every module shares.
///
/// Built by string interpolation, each piece of a line is a call of its
/// own (a literal, then a number, then a literal...); as a template, a line
/// is one call with a few words of arguments. The error types' `message`
/// getters and VMXCore's diagnostics (the pre-launch checker, the
/// capability report) are templates.
///
/// Placeholders, each taking the next value unless it says otherwise:
///
/// - `{hex}`: `0x` and lower-case hex digits; `{hex16}` zero-padded to 16
/// - `{dec}`: decimal
/// - `{yes}`: "yes" for a nonzero value, "no" for 0
/// - `{name}`: `name` (no value)
/// - any other word: rendered by the caller with the next value (see
///   `append(template:from:values:name:)`; VMXCore's `{controls}`,
///   `{msr}`, `{memory}`); `append(template:)` skips it
///
///     Message(template: "{name} at {hex} is not 4 KiB-aligned", address, name: "VMXON region")
extension Message {
    /// `template` rendered. (`template` and `name` are literals: the
    /// renderer takes their pointers, NUL-terminated.)
    @inlinable
    public init(template: StaticString, _ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0) {
        self.init(rendering: template.utf8Start, first, second, third, fourth, name: nil)
    }

    /// `template` rendered, `{name}` as `name`.
    @inlinable
    public init(
        template: StaticString, _ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0,
        name: StaticString
    ) {
        self.init(rendering: template.utf8Start, first, second, third, fourth, name: name.utf8Start)
    }

    /// Appends `template` rendered; placeholders other than those above
    /// take their value and print nothing.
    @inlinable
    public mutating func append(template: StaticString, _ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0) {
        append(rendering: template.utf8Start, first, second, third, fourth, name: nil)
    }

    /// Appends `template` rendered, `{name}` as `name`.
    @inlinable
    public mutating func append(
        template: StaticString, _ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0,
        name: StaticString
    ) {
        append(rendering: template.utf8Start, first, second, third, fourth, name: name.utf8Start)
    }

    // (Never inlined, nor is `append(rendering:)`: a call is a pointer and
    // a few values, all in registers; inlined, each site also cleared the
    // message's buffer. Their callers are inlinable so that default values
    // are constants at the call site, not calls of default-argument
    // functions, and pass the literals' pointers, not three words each.)
    @inline(never) @usableFromInline
    init(rendering template: UnsafePointer<UInt8>, _ first: UInt64, _ second: UInt64, _ third: UInt64, _ fourth: UInt64, name: UnsafePointer<UInt8>?) {
        self.init()
        append(rendering: template, first, second, third, fourth, name: name)
    }

    @inline(never) @usableFromInline
    mutating func append(
        rendering template: UnsafePointer<UInt8>, _ first: UInt64, _ second: UInt64, _ third: UInt64, _ fourth: UInt64,
        name: UnsafePointer<UInt8>?
    ) {
        let bytes = UnsafeRawBufferPointer(start: template, count: Self.lengthOfTerminated(template))
        var values = TemplateValues(first, second, third, fourth)
        var index = 0
        while append(template: bytes, from: &index, values: &values, name: name) != nil { _ = values.next() }
    }

    /// Bytes before the NUL at `start`.
    static func lengthOfTerminated(_ start: UnsafePointer<UInt8>) -> Int {
        var end = start
        while end.pointee != 0 { end += 1 }
        return end - start
    }

    /// Appends `template` rendered from `index` up to the first placeholder
    /// other than those above, and returns that placeholder's word (the
    /// bytes between the braces) with `index` just past it and its value
    /// next in `values`; returns nil when the whole rest is rendered.
    /// `name` (NUL-terminated, or nil for none) is `{name}`. The caller
    /// renders the word and calls again:
    ///
    ///     var index = 0
    ///     while let word = text.append(template: bytes, from: &index, values: &values, name: nil) {
    ///         text.append(myPlaceholder(word, values.next()))
    ///     }
    ///
    /// (Never inlined: one copy of the renderer serves every caller. A
    /// closure for the other placeholders was specialized once per caller.)
    @inline(never)
    public mutating func append(
        template: UnsafeRawBufferPointer, from index: inout Int, values: inout TemplateValues, name: UnsafePointer<UInt8>?
    ) -> UnsafeRawBufferPointer? {
        var start = index
        while index < template.count {
            guard template[index] == UInt8(ascii: "{"), let close = template[index...].firstIndex(of: UInt8(ascii: "}")) else {
                index += 1
                continue
            }
            append(bytes: UnsafeRawBufferPointer(rebasing: template[start..<index]))
            let word = UnsafeRawBufferPointer(rebasing: template[index + 1..<close])
            index = close + 1
            start = index
            switch word.first {
            case UInt8(ascii: "n"): if let name { append(terminatedUTF8: name) }
            case UInt8(ascii: "h"): append(hex: values.next(), digits: word.count == 5 ? 16 : 0)
            case UInt8(ascii: "d"): append(decimal: values.next())
            case UInt8(ascii: "y"): append(values.next() != 0 ? "yes" : "no")
            default: return word
            }
        }
        append(bytes: UnsafeRawBufferPointer(rebasing: template[start...]))
        return nil
    }
}

/// The values of a template, taken in order by its placeholders.
public struct TemplateValues: Sendable {
    var values: (UInt64, UInt64, UInt64, UInt64)

    public init(_ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0) {
        values = (first, second, third, fourth)
    }

    /// The next value (0 once all four are taken).
    public mutating func next() -> UInt64 {
        defer { values = (values.1, values.2, values.3, 0) }
        return values.0
    }
}
