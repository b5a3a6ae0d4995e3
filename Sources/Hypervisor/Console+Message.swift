import Primitives

// Transitional: `Message` lines on the console for VMXCore's diagnostics
// (errors' `message`, the capability report), while `Console` itself moves
// from `String` to `Message`. Delete this file once `Console.line`,
// `Console.error` and `fatal` take a `Message`.

extension Console {
    /// Prints `pxhv: <message>` and a newline. Never inlined: a caller
    /// that passes `{ console.line($0) }` to VMXCore's report would get a
    /// copy of the whole UART and VGA output per line.
    @inline(never)
    mutating func line(_ message: Message) {
        write(bytes: "pxhv: ")
        message.withBytes { write(bytes: $0) }
        write(bytes: "\n")
    }

    /// Prints `pxhv: error: <message>`.
    @inline(never)
    mutating func error(_ message: Message) {
        write(bytes: "pxhv: error: ")
        message.withBytes { write(bytes: $0) }
        write(bytes: "\n")
    }

    private mutating func write(bytes text: StaticString) {
        text.withUTF8Buffer { write(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Stops the hypervisor after printing `pxhv: error: <message>`.
func fatal(_ message: Message) -> Never {
    console.error(message)
    halt()
}
