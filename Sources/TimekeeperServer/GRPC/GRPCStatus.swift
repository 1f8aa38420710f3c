internal import Foundation
internal import GRPCCore
internal import NIOHPACK
internal import TimekeeperEngine

/// A gRPC status as it goes on the wire: the code, the message, and any extra trailers (such as the
/// `grpc-status-details-bin` detail Temporal's SDKs decode).
struct GRPCStatus: Error {
    var code: Int
    var message: String
    var trailers: [(name: String, value: String)] = []
    /// The HTTP status of a trailers-only answer: 200 but for protocol errors answered as grpc-go does.
    var httpStatus = "200"

    init(_ code: RPCError.Code, _ message: String) {
        self.code = Status.Code(code).rawValue
        self.message = message
    }

    /// What a handler threw, as a status: engine errors and gRPC errors keep their code, message and
    /// details; anything else is UNKNOWN with its description.
    init(_ error: any Error) {
        if let status = error as? GRPCStatus {
            self = status
            return
        }
        let convertible: (any RPCErrorConvertible)? =
            if let engineError = error as? EngineError { engineError.status as? any RPCErrorConvertible }
            else { error as? any RPCErrorConvertible }
        guard let convertible else {
            self.init(.unknown, "Service method threw an unknown error: \(error)")
            return
        }
        self.init(convertible.rpcErrorCode, convertible.rpcErrorMessage)
        for (name, value) in convertible.rpcErrorMetadata {
            switch value {
            case .string(let text): trailers.append((name, text))
            // Binary metadata travels base64-encoded (its name ends in "-bin").
            case .binary(let bytes): trailers.append((name, Data(bytes).base64EncodedString()))
            }
        }
    }

    /// The one header block of a stream answered with this status and no message (gRPC's trailers-only
    /// response): the response headers and the status together.
    var trailersOnlyHeaders: HPACKHeaders {
        var headers: HPACKHeaders = [":status": httpStatus, "content-type": "application/grpc"]
        headers.add(name: "grpc-status", value: String(code))
        if !message.isEmpty { headers.add(name: "grpc-message", value: Self.percentEncoded(message)) }
        for (name, value) in trailers { headers.add(name: name, value: value) }
        return headers
    }

    /// gRPC's grpc-message encoding: printable ASCII except '%' as is, every other byte as %XX.
    static func percentEncoded(_ message: String) -> String {
        var encoded = ""
        for byte in message.utf8 {
            if (0x20...0x7E).contains(byte) && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += byte < 0x10 ? "%0\(hex)" : "%\(hex)"
            }
        }
        return encoded
    }
}
