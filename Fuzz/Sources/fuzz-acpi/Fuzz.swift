import FuzzSupport
func fuzzAcpi(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }
