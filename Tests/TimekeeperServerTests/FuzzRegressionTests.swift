import Foundation
import NIOEmbedded
import Testing
@testable import TimekeeperServer

extension EmbeddedEventLoop: ManuallyRunLoop {}

extension GRPCConnectionHandlerTests {
    /// Every fuzz input the repository keeps, the seed corpus (Fuzz/corpus) and each input that once crashed
    /// the server (Fuzz/regressions), replays through the fuzz targets' own code (`Fuzzing`) without
    /// crashing. A regression crashes the test process, as it crashed the fuzzer.
    ///
    /// Nested in the serialized handler suite: corpus connections inflate gzip requests, and that suite
    /// counts the process's live inflate streams.
    @Suite struct FuzzRegressions {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()

        /// The files of Fuzz/corpus/<target> and Fuzz/regressions/<target>, as paths from the repository root.
        static func inputs(_ target: String) -> [String] {
            ["Fuzz/corpus/\(target)", "Fuzz/regressions/\(target)"].flatMap { directory -> [String] in
                let path = root.appendingPathComponent(directory).path
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(directory)/\($0)" }
            }
        }

        static func bytes(_ path: String) throws -> [UInt8] {
            Array(try Data(contentsOf: root.appendingPathComponent(path)))
        }

        @Test func theCorpusIsThere() {
            #expect(!Self.inputs("http2").isEmpty)
            #expect(!Self.inputs("methods").isEmpty)
        }

        @Test(arguments: GRPCConnectionHandlerTests.FuzzRegressions.inputs("http2"))
        func anHTTP2ConnectionReplays(_ path: String) throws {
            let input = try Self.bytes(path)
            let loop = EmbeddedEventLoop()
            Fuzzing.serveConnection(input, loop: loop) { EmbeddedChannel(loop: loop) }
        }

        @Test(arguments: GRPCConnectionHandlerTests.FuzzRegressions.inputs("methods"))
        func aMethodCallReplays(_ path: String) throws {
            Fuzzing.callMethod(try Self.bytes(path), loop: EmbeddedEventLoop())
        }
    }
}
