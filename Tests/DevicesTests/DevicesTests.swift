import Testing
@testable import Devices
@Test func placeholder() {}
