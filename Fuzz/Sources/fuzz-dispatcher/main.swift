import FuzzSupport

runFuzzer(fuzzDispatcher)
