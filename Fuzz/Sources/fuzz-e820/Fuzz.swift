import FuzzSupport
func fuzzE820(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }
