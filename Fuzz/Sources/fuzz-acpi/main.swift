import FuzzSupport

runFuzzer(fuzzACPI)
