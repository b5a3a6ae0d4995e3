import CFuzzerDriver

/// One fuzz input: the bytes libFuzzer made; return 0.
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// The target's `main`: hands the command line (libFuzzer's flags and corpus
/// directories) to libFuzzer, which calls `target` per input, and exits
/// with libFuzzer's status (nonzero after a crash).
///
/// SwiftPM links an executable target's `main` to the module's own entry
/// point, so libFuzzer's `main` cannot be used; `LLVMFuzzerRunDriver` is
/// libFuzzer's documented way in for programs with their own.
public func runFuzzer(_ target: FuzzTarget) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, target)
    exit(status)
}

@_silgen_name("exit")
func exit(_ status: CInt) -> Never
