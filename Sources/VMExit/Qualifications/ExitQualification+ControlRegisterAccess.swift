import EPT
import Primitives
extension ExitQualification {
    /// MOV to/from CRn, CLTS, LMSW (exit reason 28).
    ///
    /// Intel SDM Vol. 3C, "Exit Qualification for Control-Register Accesses"
    /// (Table 28-3 in rev. 84)
    public struct ControlRegisterAccess: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }

        /// Bits 3:0: the control register (0 for CLTS and LMSW).
        public var controlRegister: UInt8 {
            UInt8(truncatingIfNeeded: rawValue[bits: 0...3])
        }
        /// Bits 5:4.
        public var accessType: AccessType {
            AccessType(rawValue: UInt8(truncatingIfNeeded: rawValue[bits: 4...5]))
        }
        /// Bit 6: LMSW operand type (0 for MOV CR and CLTS).
        public var lmswOperandType: LMSWOperandType {
            LMSWOperandType(rawValue: UInt8(truncatingIfNeeded: rawValue[bits: 6...6]))
        }
        /// Bits 11:8: the source (MOV to CR) or destination (MOV from CR)
        /// register; 0 for CLTS and LMSW.
        public var generalPurposeRegister: GeneralPurposeRegister {
            GeneralPurposeRegister(rawValue: UInt8(truncatingIfNeeded: rawValue[bits: 8...11]))
        }
        /// Bits 31:16: LMSW source data (0 for MOV CR and CLTS).
        public var lmswSourceData: UInt16 {
            UInt16(truncatingIfNeeded: rawValue[bits: 16...31])
        }

        /// Bits 5:4 of the qualification.
        public struct AccessType: RawRepresentable, Hashable, Sendable {
            public var rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }

            public static let movToCR = Self(rawValue: 0)
            public static let movFromCR = Self(rawValue: 1)
            public static let clts = Self(rawValue: 2)
            public static let lmsw = Self(rawValue: 3)
        }

        /// Bit 6 of the qualification.
        public struct LMSWOperandType: RawRepresentable, Hashable, Sendable {
            public var rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }

            public static let register = Self(rawValue: 0)
            public static let memory = Self(rawValue: 1)
        }
    }
}
