import Primitives
import X86

/// The last stop for CPU exceptions in root mode: print what happened and
/// halt, instead of the triple fault (and reboot loop) the hardware would do.
@_cdecl("hv_exception")
func hvException(_ frame: UnsafeMutablePointer<x86_exception_frame>) {
    let f = frame.pointee
    console.error(
        "panic: CPU exception \(f.vector) (\(exceptionName(f.vector))) error code \(hex: f.error_code) at RIP \(hex: f.rip)"
    )
    console.line(
        "panic: CR2 \(hex: x86_read_cr2()) RSP \(hex: f.rsp) RFLAGS \(hex: f.rflags) CS \(hex: f.cs)")
    console.line(
        "panic: RAX \(hex: f.rax) RBX \(hex: f.rbx) RCX \(hex: f.rcx) RDX \(hex: f.rdx) RSI \(hex: f.rsi) RDI \(hex: f.rdi)")
    // #PF runs on its own IST stack, so an overflow of the boot stack into
    // its unmapped guard page (Boot/hypervisor.ld) arrives here intact.
    let guardPage = x86_stack_guard()
    if f.vector == 14, x86_read_cr2() &- guardPage < 4096 {
        console.line("panic: stack overflow: the boot stack (\(x86_stack_top() - x86_stack_bottom()) bytes) ran into its guard page at \(hex: guardPage)")
    }
    halt()
}

@_cdecl("hv_heap_exhausted")
func hvHeapExhausted(_ request: Int) {
    console.error("panic: early heap exhausted (request \(request) bytes, \(x86_heap_used()) of \(x86_heap_size()) used)")
    halt()
}

/// Stops the hypervisor after printing `pxhv: error: <message>`.
func fatal(_ message: Message) -> Never {
    console.error(message)
    halt()
}

/// The end after an error: say so, then stop this CPU with interrupts off
/// (never a reset: a reboot loop would hide the message).
func halt() -> Never {
    console.line("halted")
    console.drain()
    x86_halt_forever()
}

/// Intel SDM Vol. 3A, "Exception and Interrupt Reference".
private func exceptionName(_ vector: UInt64) -> StaticString {
    switch vector {
    case 0: "#DE divide error"
    case 1: "#DB debug"
    case 2: "NMI"
    case 3: "#BP breakpoint"
    case 4: "#OF overflow"
    case 5: "#BR bound range"
    case 6: "#UD invalid opcode"
    case 7: "#NM device not available"
    case 8: "#DF double fault"
    case 10: "#TS invalid TSS"
    case 11: "#NP segment not present"
    case 12: "#SS stack fault"
    case 13: "#GP general protection"
    case 14: "#PF page fault"
    case 16: "#MF x87 error"
    case 17: "#AC alignment check"
    case 18: "#MC machine check"
    case 19: "#XM SIMD exception"
    case 20: "#VE virtualization exception"
    case 21: "#CP control protection"
    default: "reserved"
    }
}
