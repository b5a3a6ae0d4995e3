import Testing
@testable import VMXCore
@Test func placeholder() {}
