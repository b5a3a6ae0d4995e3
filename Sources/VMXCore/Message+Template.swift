import Primitives

/// VMXCore's placeholders on top of the shared template renderer
/// (Primitives' `Message(template:...)`, whose notes list the others):
///
/// - `{controls}`: the controls of `controls` set in the value, by name
///   (`VMXControlSet.describe(bits:)`)
/// - `{msr}`: the label of the MSR the value numbers (`MSR.label`)
/// - `{memory}`: the memory type the value encodes (`MemoryType.abbreviation`)
///
///     Message(vmxTemplate: "{name}: {controls} required but not allowed by {msr}", bits, msr, name: set.title, controls: set)
extension Message {
    init(vmxTemplate template: StaticString, _ first: UInt64, _ second: UInt64, _ third: UInt64, _ fourth: UInt64, name: StaticString, controls: VMXControlSet) {
        self.init()
        template.withUTF8Buffer { utf8 in
            append(vmxTemplate: UnsafeRawBufferPointer(utf8), first, second, third, fourth, name: name.utf8Start, controls: controls)
        }
    }

    /// Appends the template in `template`'s bytes rendered, with VMXCore's
    /// placeholders. (Never inlined: one copy for the three callers.)
    @inline(never)
    mutating func append(
        vmxTemplate template: UnsafeRawBufferPointer, _ first: UInt64, _ second: UInt64, _ third: UInt64, _ fourth: UInt64,
        name: UnsafePointer<UInt8>?, controls: VMXControlSet
    ) {
        var values = TemplateValues(first, second, third, fourth)
        var index = 0
        while let word = append(template: template, from: &index, values: &values, name: name) {
            let value = values.next()
            switch (word.first, word.count > 1 ? word[1] : 0) {
            case (UInt8(ascii: "c"), _): append(controls.describe(bits: UInt32(truncatingIfNeeded: value)))
            case (UInt8(ascii: "m"), UInt8(ascii: "s")): append(MSR(UInt32(truncatingIfNeeded: value)).label)
            default: append(MemoryType(rawValue: UInt8(truncatingIfNeeded: value)).abbreviation)
            }
        }
    }
}

/// 1 for true, 0 for false: a value for `{yes}`.
func yes(_ flag: Bool) -> UInt64 { flag ? 1 : 0 }
