// fuzz-methods: the fuzzer's first byte picks a method (in the sorted list of the router's paths), the rest
// is its request message; the handler is called as the router calls it, on a fresh engine with a small
// fixture (TimekeeperServer's Fuzzing.callMethod).
//
// scripts/fuzz builds it with libFuzzer and ASan and -DFUZZING: libFuzzer brings main() and calls
// LLVMFuzzerTestOneInput. In a plain `swift build` it is a replayer instead:
// `fuzz-methods FILE…` calls each file once, without the sanitizer; `fuzz-methods --list` prints the methods
// with their indices (scripts/fuzz-record-corpus reads it).
import Foundation
import NIOEmbedded
import TimekeeperServer

extension EmbeddedEventLoop: ManuallyRunLoop {}

func call(_ input: [UInt8]) {
    Fuzzing.callMethod(input, loop: EmbeddedEventLoop())
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
    call(Array(UnsafeBufferPointer(start: start, count: count)))
    return 0
}

#if !FUZZING
@main
enum Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            if path == "--list" {
                for (index, method) in Fuzzing.methodPaths.enumerated() { print(index, method) }
                continue
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                exit(2)
            }
            call(Array(data))
            print("called \(path) (\(data.count) bytes)")
        }
    }
}
#endif
