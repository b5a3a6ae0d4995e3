/// The name in the row of `table` whose number is `number`, or nil.
///
/// The module's name tables (MSRs, control bits, VM-instruction errors)
/// are static `InlineArray`s of (number, name) rows: statically initialized
/// data that one loop searches, where a `switch` would compile every case
/// to code.
func lookUpName(_ number: UInt32, in table: Span<(UInt32, StaticString)>) -> StaticString? {
    for index in table.indices where table[index].0 == number {
        return table[index].1
    }
    return nil
}
