import EPT
import Primitives
extension ExitQualification {
    /// IN, INS, OUT, OUTS (exit reason 30).
    ///
    /// Intel SDM Vol. 3C, "Exit Qualification for I/O Instructions"
    /// (Table 28-5 in rev. 84)
    public struct IOInstruction: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }

        /// Bits 2:0 as the SDM encodes them: 0 = 1 byte, 1 = 2 bytes,
        /// 3 = 4 bytes; other values are not used.
        public var sizeEncoding: UInt8 {
            UInt8(truncatingIfNeeded: rawValue[bits: 0...2])
        }
        /// The access size in bytes (1, 2 or 4); nil for an unused encoding.
        @inline(__always)
        public var size: Int? {
            switch sizeEncoding {
            case 0: 1
            case 1: 2
            case 3: 4
            default: nil
            }
        }
        /// Bit 3 = 1: IN or INS (port to guest).
        public var isIn: Bool { rawValue[bit: 3] }
        /// Bit 3 = 0: OUT or OUTS (guest to port).
        public var isOut: Bool { !isIn }
        /// Bit 4: INS or OUTS.
        public var isString: Bool { rawValue[bit: 4] }
        /// Bit 5: REP prefixed.
        public var isREP: Bool { rawValue[bit: 5] }
        /// Bit 6: the port is an immediate operand (else it is in DX).
        public var isImmediateOperand: Bool { rawValue[bit: 6] }
        /// Bits 31:16: the port number.
        public var port: UInt16 {
            UInt16(truncatingIfNeeded: rawValue[bits: 16...31])
        }
    }
}
