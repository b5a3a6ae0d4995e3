import Testing
@testable import EPT
@Test func placeholder() {}
