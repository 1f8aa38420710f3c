// swift-tools-version: 6.1
// Builds the two protoc plugins that scripts/generate-api uses. Nothing here ships in timekeeper.
import PackageDescription

let package = Package(
    name: "TimekeeperCodegen",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: []
)
