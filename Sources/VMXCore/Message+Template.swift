import Primitives

/// VMXCore's diagnostics as templates: a static text with placeholders and
/// up to four values, rendered by one function.
///
/// The module has well over a hundred lines of diagnostic text (the
/// pre-launch checker's failures, the errors, the capability report).
/// Built by string interpolation, each piece of each line is a call of its
/// own (and each hex number a copy of the hex formatter); as a template,
/// a line is one call with a few words of arguments.
///
/// Placeholders, each taking the next value unless it says otherwise:
///
/// - `{hex}`: `0x` and lower-case hex digits; `{hex16}` zero-padded to 16
/// - `{dec}`: decimal
/// - `{yes}`: "yes" for a nonzero value, "no" for 0
/// - `{name}`: `name` (no value)
/// - `{controls}`: the controls of `controls` set in the value, by name
///   (`VMXControlSet.describe(bits:)`)
/// - `{msr}`: the label of the MSR the value numbers (`MSR.label`)
/// - `{memory}`: the memory type the value encodes (`MemoryType.abbreviation`)
///
///     Message(template: "{name} at {hex} is not 4 KiB-aligned", address, name: "VMXON region")
extension Message {
    init(
        template: StaticString, _ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0,
        name: StaticString = "", controls: VMXControlSet = .pinBased
    ) {
        self.init()
        append(template: template, first, second, third, fourth, name: name, controls: controls)
    }

    /// Appends `template` rendered (see the extension's notes).
    mutating func append(
        template: StaticString, _ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0,
        name: StaticString = "", controls: VMXControlSet = .pinBased
    ) {
        template.withUTF8Buffer { utf8 in
            append(template: UnsafeRawBufferPointer(utf8), first, second, third, fourth, name: name, controls: controls)
        }
    }

    /// Appends the template in `template`'s bytes rendered. (Never inlined:
    /// one copy of the renderer serves every caller.)
    @inline(never)
    mutating func append(
        template: UnsafeRawBufferPointer, _ first: UInt64 = 0, _ second: UInt64 = 0, _ third: UInt64 = 0, _ fourth: UInt64 = 0,
        name: StaticString = "", controls: VMXControlSet = .pinBased
    ) {
        var values = (first, second, third, fourth)
        func next() -> UInt64 {
            defer { values = (values.1, values.2, values.3, 0) }
            return values.0
        }
        var start = 0
        var index = 0
        while index < template.count {
            guard template[index] == UInt8(ascii: "{"), let close = template[index...].firstIndex(of: UInt8(ascii: "}")) else {
                index += 1
                continue
            }
            append(bytes: UnsafeRawBufferPointer(rebasing: template[start..<index]))
            switch (template[index + 1], template[index + 2]) {
            case (UInt8(ascii: "n"), _): append(name)
            case (UInt8(ascii: "h"), _): append(hex: next(), digits: close - index == 6 ? 16 : 0)
            case (UInt8(ascii: "d"), _): append(decimal: next())
            case (UInt8(ascii: "y"), _): append(next() != 0 ? "yes" : "no")
            case (UInt8(ascii: "c"), _): append(controls.describe(bits: UInt32(truncatingIfNeeded: next())))
            case (UInt8(ascii: "m"), UInt8(ascii: "s")): append(MSR(UInt32(truncatingIfNeeded: next())).label)
            default: append(MemoryType(rawValue: UInt8(truncatingIfNeeded: next())).abbreviation)
            }
            index = close + 1
            start = index
        }
        append(bytes: UnsafeRawBufferPointer(rebasing: template[start...]))
    }
}

/// 1 for true, 0 for false: a value for `{yes}`.
func yes(_ flag: Bool) -> UInt64 { flag ? 1 : 0 }
