import FuzzSupport
func fuzzDispatcher(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }
