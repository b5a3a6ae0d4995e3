import FuzzSupport

runFuzzer(fuzzAcpi)
