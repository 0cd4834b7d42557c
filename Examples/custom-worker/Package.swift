// swift-tools-version:6.0
// A worker executable with its own routines, built on the Routilux library.
import PackageDescription

let package = Package(
    name: "custom-worker",
    platforms: [.macOS(.v15)],
    dependencies: [
        // In your project: .package(url: "https://github.com/...", from: "...") or a path.
        .package(name: "Routilux", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "my-worker",
            dependencies: [
                .product(name: "RoutiluxCore", package: "Routilux"),
                .product(name: "RoutiluxWorker", package: "Routilux"),
                .product(name: "RoutiluxBuiltins", package: "Routilux"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
