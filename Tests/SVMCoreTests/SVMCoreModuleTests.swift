import Testing
@testable import SVMCore

// Placeholder so the test target builds before the module has tests; the
// module's tests replace it.
