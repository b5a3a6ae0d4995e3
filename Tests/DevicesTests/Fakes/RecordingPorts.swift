import Devices

/// A `PortIO` that records every access in order and answers reads from a
/// closure (default: a floating bus, all ones).
final class RecordingPorts: PortIO {
    enum Access: Equatable, CustomStringConvertible {
        case read(port: UInt16, width: Int)
        case write(port: UInt16, value: UInt32, width: Int)

        var description: String {
            switch self {
            case .read(let port, let width):
                "in\(width * 8) 0x\(String(port, radix: 16))"
            case .write(let port, let value, let width):
                "out\(width * 8) 0x\(String(port, radix: 16)) <- 0x\(String(value, radix: 16))"
            }
        }
    }

    private(set) var trace: [Access] = []
    /// Last value written to each port.
    private(set) var latched: [UInt16: UInt32] = [:]
    /// Answers a read of `port`; the default models an empty bus.
    var respond: (_ port: UInt16, _ latched: UInt32?) -> UInt32 = { _, _ in 0xFFFF_FFFF }

    var writes: [Access] { trace.filter { if case .write = $0 { true } else { false } } }

    private func read(_ port: UInt16, width: Int) -> UInt32 {
        trace.append(.read(port: port, width: width))
        return respond(port, latched[port])
    }

    private func write(_ port: UInt16, _ value: UInt32, width: Int) {
        trace.append(.write(port: port, value: value, width: width))
        latched[port] = value
    }

    func inb(_ port: UInt16) -> UInt8 { UInt8(truncatingIfNeeded: read(port, width: 1)) }
    func inw(_ port: UInt16) -> UInt16 { UInt16(truncatingIfNeeded: read(port, width: 2)) }
    func inl(_ port: UInt16) -> UInt32 { read(port, width: 4) }
    func outb(_ port: UInt16, _ value: UInt8) { write(port, UInt32(value), width: 1) }
    func outw(_ port: UInt16, _ value: UInt16) { write(port, UInt32(value), width: 2) }
    func outl(_ port: UInt16, _ value: UInt32) { write(port, value, width: 4) }
}
