import FuzzSupport

runFuzzer(fuzzINT13)
