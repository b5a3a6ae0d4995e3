import Testing
@testable import Loader
@Test func placeholder() {}
