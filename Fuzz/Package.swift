// swift-tools-version: 6.1
//
// libFuzzer targets for pxHV's hosted libraries (issue 7, item 11): the exit
// dispatcher and every parser of data the hypervisor did not create.
//
// A package of its own so the root build never sees `-sanitize=fuzzer`.
// Build and run through Tools/fuzz.sh; by hand:
//
//     swift build --package-path Fuzz -c release \
//         -Xswiftc -sanitize=fuzzer,address -Xswiftc -assert-config -Xswiftc Debug
//     Fuzz/.build/release/fuzz-acpi -max_total_time=60 Fuzz/Seeds/fuzz-acpi
//
// Each target is an executable: `main.swift` hands its test function to
// libFuzzer (`runFuzzer`, over `LLVMFuzzerRunDriver`), because SwiftPM
// points an executable's `main` at the module's own entry, not libFuzzer's.
import PackageDescription

let fuzzTargets = ["fuzz-dispatcher", "fuzz-manifest", "fuzz-linux", "fuzz-multiboot", "fuzz-acpi", "fuzz-e820", "fuzz-svm-exit", "fuzz-int13"]

let package = Package(
    name: "pxHVFuzz",
    products: fuzzTargets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "pxHV", path: "..")],
    targets: [
        // libFuzzer's LLVMFuzzerRunDriver, declared for Swift.
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver", .product(name: "PXHVLibraries", package: "pxHV")]),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "PXHVLibraries", package: "pxHV")])
    }
)
