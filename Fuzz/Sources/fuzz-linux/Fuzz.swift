import FuzzSupport
func fuzzLinux(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }
