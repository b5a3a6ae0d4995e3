import FuzzSupport

runFuzzer(fuzzE820)
