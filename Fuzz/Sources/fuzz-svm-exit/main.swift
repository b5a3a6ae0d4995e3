import FuzzSupport

runFuzzer(fuzzSVMExit)
