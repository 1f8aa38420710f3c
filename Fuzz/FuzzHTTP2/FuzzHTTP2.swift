// fuzz-http2: the fuzzer's bytes are everything a client sends on one HTTP/2 connection, served by the real
// pipeline over every real service and a real engine (TimekeeperServer's Fuzzing.serveConnection).
//
// scripts/fuzz builds it with libFuzzer and ASan and -DFUZZING: libFuzzer brings main() and calls
// LLVMFuzzerTestOneInput. In a plain `swift build` it is a replayer instead:
// `fuzz-http2 FILE…` serves each file once, without the sanitizer (handy under a debugger).
import Foundation
import NIOEmbedded
import TimekeeperServer

extension EmbeddedEventLoop: ManuallyRunLoop {}

func serve(_ input: [UInt8]) {
    let loop = EmbeddedEventLoop()
    Fuzzing.serveConnection(input, loop: loop) { EmbeddedChannel(loop: loop) }
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>
) -> CInt {
    // An EmbeddedEventLoop used from another thread crashes instead of printing a warning.
    setenv("SWIFTNIO_STRICT", "1", 0)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    serve(Array(UnsafeBufferPointer(start: start, count: count)))
    return 0
}

#if !FUZZING
@main
enum Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                exit(2)
            }
            serve(Array(data))
            print("served \(path) (\(data.count) bytes)")
        }
    }
}
#endif
