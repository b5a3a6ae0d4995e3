import FuzzSupport

runFuzzer(fuzzLinux)
