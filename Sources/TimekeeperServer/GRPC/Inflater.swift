internal import CZlib
internal import NIOCore
internal import Synchronization

/// One zlib inflate stream, reset for every compressed message of a connection and released when the
/// connection goes.
///
/// The z_stream lives at a fixed address (zlib keeps a pointer back to it) and is ended in `deinit`, so
/// dropping the owner can never leak zlib's state.
final class Inflater {
    /// The two gRPC message encodings zlib reads.
    enum Format {
        case gzip
        /// gRPC's "deflate" is the zlib format (RFC 1950), not raw deflate.
        case deflate

        init?(grpcEncoding: String) {
            switch grpcEncoding.lowercased() {
            case "gzip": self = .gzip
            case "deflate": self = .deflate
            default: return nil
            }
        }

        fileprivate var windowBits: Int32 { self == .gzip ? 15 + 16 : 15 }
    }

    enum Failure: Error, Equatable {
        /// The inflated message would exceed this many bytes.
        case tooLarge(limit: Int)
        /// The bytes are not a complete stream of the announced format.
        case corrupt(String)
    }

    /// Streams alive right now: lets tests prove that every stream is released.
    static let live = Atomic<Int>(0)

    private let stream: UnsafeMutablePointer<z_stream>

    init(_ format: Format) throws(Failure) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = timekeeper_inflateInit2(stream, format.windowBits)
        guard status == Z_OK else {
            stream.deallocate()
            throw .corrupt("zlib could not start an inflate stream (status \(status))")
        }
        Self.live.add(1, ordering: .relaxed)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        Self.live.subtract(1, ordering: .relaxed)
    }

    /// Inflates one whole compressed message, appending at most `limit` bytes to `output`.
    /// Returns how many bytes it appended. Z_FINISH, the whole message being at hand, spares zlib its 32 KiB
    /// window whenever the first output buffer is large enough.
    func inflate(_ message: ByteBuffer, limit: Int, appendingTo output: inout ByteBuffer) throws(Failure) -> Int {
        inflateReset(stream)
        var produced = 0
        var status = Z_OK
        let failure: Failure? = message.withUnsafeReadableBytes { input -> Failure? in
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(input.count)
            defer { stream.pointee.next_in = nil }
            while status != Z_STREAM_END {
                let room = min(max(4 * input.count, 1024), limit - produced + 1)
                produced += output.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { buffer in
                    let usable = min(buffer.count, room)
                    stream.pointee.next_out = buffer.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = UInt32(usable)
                    status = CZlib.inflate(stream, Z_FINISH)
                    return usable - Int(stream.pointee.avail_out)
                }
                if produced > limit { return .tooLarge(limit: limit) }
                switch status {
                case Z_STREAM_END, Z_OK: continue
                // Z_FINISH: out of room is Z_BUF_ERROR too; only an unfilled output means missing input.
                case Z_BUF_ERROR where stream.pointee.avail_out == 0: continue
                case Z_BUF_ERROR: return .corrupt("the compressed message ends before its stream does")
                default:
                    let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    return .corrupt(reason)
                }
            }
            return nil
        }
        if let failure { throw failure }
        return produced
    }
}
