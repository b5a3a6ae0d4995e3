import FuzzSupport
func fuzzMultiboot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }
