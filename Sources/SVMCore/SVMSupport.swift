import Primitives
import VMXCore

/// The 12-byte vendor identification string of CPUID leaf 0, in EBX, EDX,
/// ECX order ("Genu" "ineI" "ntel").
///
/// Intel SDM Vol. 2A, "CPUID—CPU Identification" (leaf 0 in rev. 84);
/// AMD APM Vol. 3, "Function 0h—Maximum Standard Function Number and Vendor String"
/// (Appendix E.3.1 in rev. 3.35).
public struct CPUVendorID: Hashable, Sendable {
    public var ebx: UInt32
    public var edx: UInt32
    public var ecx: UInt32

    public init(ebx: UInt32, edx: UInt32, ecx: UInt32) {
        self.ebx = ebx
        self.edx = edx
        self.ecx = ecx
    }

    /// "GenuineIntel".
    public static let intel = Self(ebx: 0x756E_6547, edx: 0x4965_6E69, ecx: 0x6C65_746E)
    /// "AuthenticAMD".
    public static let amd = Self(ebx: 0x6874_7541, edx: 0x6974_6E65, ecx: 0x444D_4163)

    /// Byte `index` (0..<12) of the string.
    public subscript(index: Int) -> UInt8 {
        let word = index < 4 ? ebx : index < 8 ? edx : ecx
        return UInt8(truncatingIfNeeded: word >> (8 * UInt32(index % 4)))
    }

    /// The 12 bytes as text, each byte outside printable ASCII shown as `?`
    /// (the string comes from the processor, or from a hypervisor below us).
    public var text: Message {
        var text = Message()
        for index in 0..<12 {
            let byte = self[index]
            text.append(byte: (0x20...0x7E).contains(byte) ? byte : UInt8(ascii: "?"))
        }
        return text
    }
}

/// The processor's vendor, from CPUID leaf 0.
public enum CPUVendor: Hashable, Sendable {
    /// "GenuineIntel": VT-x.
    case intel
    /// "AuthenticAMD": AMD-V (SVM).
    case amd
    /// Any other string, kept whole for the message.
    case other(CPUVendorID)

    public init(_ id: CPUVendorID) {
        switch id {
        case .intel: self = .intel
        case .amd: self = .amd
        default: self = .other(id)
        }
    }

    /// Reads CPUID leaf 0.
    public static func read<C: CPUIDAccess>(_ cpu: C) -> CPUVendor {
        let leaf0 = cpu.cpuid(leaf: 0)
        return CPUVendor(CPUVendorID(ebx: leaf0.ebx, edx: leaf0.edx, ecx: leaf0.ecx))
    }
}

/// CPUID 80000001h:ECX, the extended feature bit SVM needs.
///
/// AMD APM Vol. 3, "Function 8000_0001h—Extended Processor and Processor
/// Feature Identifiers" (Appendix E.4.1 in rev. 3.35).
public struct CPUIDExtendedFeaturesECX: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The leaf (ECX of it).
    public static let leaf: UInt32 = 0x8000_0001

    /// SVM (bit 2): secure virtual machine (AMD-V).
    public static let svm = Self(rawValue: 1 << 2)
}

/// VM_CR (MSR C001_0114h): the firmware's hold on SVM.
///
/// AMD APM Vol. 2, "VM_CR MSR (C001_0114h)" (15.30.1 in rev. 3.42).
public struct VMCR: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 0: DPD, debug port disable.
    public static let debugPortDisable = Self(rawValue: 1 << 0)
    /// Bit 1: R_INIT, INIT redirected to #SX.
    public static let redirectINIT = Self(rawValue: 1 << 1)
    /// Bit 2: DIS_A20M, A20 masking disabled.
    public static let disableA20M = Self(rawValue: 1 << 2)
    /// Bit 3: LOCK. SVMDIS is read-only while it is set.
    public static let lock = Self(rawValue: 1 << 3)
    /// Bit 4: SVMDIS. EFER.SVME is must-be-zero while it is set.
    public static let svmDisabled = Self(rawValue: 1 << 4)
}

/// The virtualization extension the hypervisor runs on.
public enum VirtualizationBackend: Hashable, Sendable {
    /// Intel VT-x (VMXCore).
    case vmx
    /// AMD-V (SVMCore).
    case svm

    /// The vendor's name for it.
    public var name: StaticString {
        switch self {
        case .vmx: "VT-x"
        case .svm: "AMD-V"
        }
    }
}

/// Why no backend can run, each with its one-line message.
public enum BackendUnavailable: Error, Equatable, Sendable {
    /// Intel: VMXCore's own verdict (`VMXError.notSupported` or
    /// `.featureControlLocked`), printed with VMXCore's message.
    case vmx(VMXError)
    /// AMD: CPUID 80000000h reports no leaf 80000001h (or 8000000Ah):
    /// the leaf that is missing and the highest one reported.
    case extendedLeafMissing(leaf: UInt32, maximum: UInt32)
    /// AMD: CPUID 80000001h:ECX.SVM = 0.
    case svmNotSupported
    /// AMD: VM_CR.SVMDIS = 1 (the value read; LOCK says whether firmware
    /// locked it).
    case svmDisabledByFirmware(VMCR)
    /// AMD: CPUID 8000000Ah:EDX.NP = 0. pxHV maps guest memory with nested
    /// paging only.
    case noNestedPaging
    /// Neither "GenuineIntel" nor "AuthenticAMD".
    case unknownVendor(CPUVendorID)

    /// One line, meant to follow "pxhv: error: ".
    public var message: Message {
        switch self {
        case .vmx(let error):
            return error.message
        case .extendedLeafMissing(let leaf, let maximum):
            let missing: StaticString = leaf == CPUIDExtendedFeaturesECX.leaf ? "80000001h" : "8000000Ah"
            return "AMD-V not supported: CPUID leaf \(missing) not reported (highest extended leaf \(hex: maximum))"
        case .svmNotSupported:
            return "AMD-V not supported: CPUID 80000001h:ECX.SVM=0"
        case .svmDisabledByFirmware(let vmCR):
            var text: Message = "AMD-V disabled by firmware (VM_CR.SVMDIS=1"
            text.append(vmCR.contains(.lock) ? ", locked" : ", not locked")
            text.append("): enable SVM (AMD-V) in the firmware setup")
            return text
        case .noNestedPaging:
            return "no nested paging: CPUID 8000000Ah:EDX.NP=0 (pxHV requires NP)"
        case .unknownVendor(let id):
            var text: Message = "unknown CPU vendor \""
            text.append(id.text)
            text.append("\": neither GenuineIntel (VT-x) nor AuthenticAMD (AMD-V)")
            return text
        }
    }
}

extension VirtualizationBackend {
    /// CPUID 80000000h:EAX, the highest extended leaf.
    public static let extendedLeafRange: UInt32 = 0x8000_0000
    /// CPUID 8000000Ah: SVM revision, ASIDs and SVM features.
    public static let svmFeatureLeaf: UInt32 = 0x8000_000A

    /// Chooses VT-x or AMD-V from CPUID and MSRs, reading (never writing)
    /// only what exists at each step.
    ///
    /// Intel ("GenuineIntel"): VMXCore's checks in the tree's order:
    /// CPUID.1:ECX.VMX (`checkVMXSupport`), then IA32_FEATURE_CONTROL
    /// (`FeatureControl.vmxEnableAction`: locked without VMX outside SMX
    /// is fatal; unlocked is fine, the bring-up locks it).
    ///
    /// AMD ("AuthenticAMD"), per AMD APM Vol. 2, "Enabling SVM" (15.4 in
    /// rev. 3.42): CPUID 80000001h:ECX.SVM, then VM_CR.SVMDIS (the MSR
    /// exists only with SVM), then CPUID 8000000Ah:EDX.NP, which pxHV
    /// requires. (SVM-Lock unlocking with a key is not supported: SVMDIS=1
    /// is final.)
    public static func choose<C: CPUIDAccess, M: MSRAccess>(
        cpuid: C, msrs: M
    ) throws(BackendUnavailable) -> VirtualizationBackend {
        switch CPUVendor.read(cpuid) {
        case .intel:
            do throws(VMXError) {
                try checkVMXSupport(cpuid)
                _ = try FeatureControl(rawValue: msrs.read(.featureControl)).vmxEnableAction()
            } catch {
                throw .vmx(error)
            }
            return .vmx
        case .amd:
            let maximum = cpuid.cpuid(leaf: extendedLeafRange).eax
            guard maximum >= CPUIDExtendedFeaturesECX.leaf else {
                throw .extendedLeafMissing(leaf: CPUIDExtendedFeaturesECX.leaf, maximum: maximum)
            }
            let features = CPUIDExtendedFeaturesECX(rawValue: cpuid.cpuid(leaf: CPUIDExtendedFeaturesECX.leaf).ecx)
            guard features.contains(.svm) else { throw .svmNotSupported }
            let vmCR = VMCR(rawValue: msrs.read(.vmCR))
            guard !vmCR.contains(.svmDisabled) else { throw .svmDisabledByFirmware(vmCR) }
            guard maximum >= svmFeatureLeaf else {
                throw .extendedLeafMissing(leaf: svmFeatureLeaf, maximum: maximum)
            }
            let svm = SVMFeatures(rawValue: cpuid.cpuid(leaf: svmFeatureLeaf).edx)
            guard svm.contains(.nestedPaging) else { throw .noNestedPaging }
            return .svm
        case .other(let id):
            throw .unknownVendor(id)
        }
    }
}
