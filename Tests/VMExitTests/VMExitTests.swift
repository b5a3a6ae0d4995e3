import Testing
@testable import VMExit
@Test func placeholder() {}
