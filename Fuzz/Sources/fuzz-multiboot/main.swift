import FuzzSupport

runFuzzer(fuzzMultiboot)
