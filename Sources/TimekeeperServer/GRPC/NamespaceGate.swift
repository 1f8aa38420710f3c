internal import GRPCCore
internal import NIOCore
internal import SwiftProtobuf
internal import Synchronization

/// The dev server answers NOT_FOUND for a namespace nobody registered, before any handler runs, as
/// Temporal's frontend does for every WorkflowService and OperatorService request that names one
/// ("Namespace X is not found."). The test server serves any namespace (as Temporal's Java test server
/// does), so it has no gate.
///
/// The namespace is read from the request's bytes (its top-level `namespace` field), so a request is not
/// decoded twice; the field's number is found once per method, from the request type itself, on the
/// method's first call.
enum NamespaceGate {
    /// The number of `Request`'s top-level string field `namespace`, or `nil` if it has none: a request with
    /// only that field set, read from JSON and written as protobuf, starts with that field's tag.
    static func fieldNumber<Request: SwiftProtobuf.Message>(of _: Request.Type) -> Int? {
        guard let probe = try? Request(jsonString: #"{"namespace":"n"}"#),
            let bytes: [UInt8] = try? probe.serializedBytes()
        else { return nil }
        var reader = WireReader(bytes[...])
        guard let (field, wireType) = reader.tag(), wireType == 2 else { return nil }
        return field
    }

    /// A method's `namespace` field number, found by `probe` when first asked for, then kept.
    final class FieldOnFirstUse: Sendable {
        private let probe: @Sendable () -> Int?
        private let found = Mutex<Int??>(nil)

        init(_ probe: @escaping @Sendable () -> Int?) { self.probe = probe }

        var number: Int? {
            found.withLock { found in
                if let known = found { return known }
                let number = probe()
                found = .some(number)
                return number
            }
        }
    }

    /// The value of top-level length-delimited field `field` in a serialized message (the last one, as
    /// protobuf reads repeated scalars), `nil` if absent or if the bytes are not well-formed enough to say.
    static func stringField(_ field: Int, in buffer: ByteBuffer) -> String? {
        var reader = WireReader(Array(buffer.readableBytesView)[...])
        var found: String?
        while !reader.isAtEnd {
            guard let (number, wireType) = reader.tag() else { return nil }
            switch wireType {
            case 0: guard reader.varint() != nil else { return nil }
            case 1: guard reader.skip(8) else { return nil }
            case 5: guard reader.skip(4) else { return nil }
            case 2:
                guard let length = reader.varint(), length <= UInt64(Int.max), let bytes = reader.take(Int(length)) else { return nil }
                if number == field { found = String(decoding: bytes, as: UTF8.self) }
            default: return nil  // groups (never in Temporal's API) or garbage
            }
        }
        return found
    }

    /// Just enough of the protobuf wire format to walk a message's top-level fields, bounded by its bytes.
    struct WireReader {
        private var bytes: ArraySlice<UInt8>

        init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

        var isAtEnd: Bool { bytes.isEmpty }

        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard let byte = bytes.popFirst() else { return nil }
                value |= UInt64(byte & 0x7f) << UInt64(shift)
                if byte & 0x80 == 0 { return value }
            }
            return nil  // more than ten bytes: not a varint
        }

        mutating func tag() -> (field: Int, wireType: Int)? {
            guard let tag = varint(), tag >> 3 > 0, tag >> 3 <= UInt64(Int32.max) else { return nil }
            return (Int(tag >> 3), Int(tag & 7))
        }

        mutating func skip(_ count: Int) -> Bool { take(count) != nil }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, count <= bytes.count else { return nil }
            defer { bytes = bytes.dropFirst(count) }
            return bytes.prefix(count)
        }
    }
}

extension UnaryRouter {
    /// Methods of these services are gated; the rest (health, inspection, the test service) are not.
    private static let gatedServices = [
        "/temporal.api.workflowservice.v1.WorkflowService/", "/temporal.api.operatorservice.v1.OperatorService/",
    ]
    /// Registering a namespace is how one comes to exist; `GetSystemInfo` names none (and, as SDKs' readiness
    /// probe, should not pay for finding that out on its first call).
    private static let ungatedMethods: Set<String> = [
        "/temporal.api.workflowservice.v1.WorkflowService/RegisterNamespace",
        "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo",
    ]

    /// Refuses, with NOT_FOUND, every gated request whose `namespace` is set and not one `exists` knows.
    mutating func requireKnownNamespaces(_ exists: @escaping @Sendable (String) -> Bool) {
        for (path, probe) in namespaceFieldProbes
        where Self.gatedServices.contains(where: { path.hasPrefix($0) }) && !Self.ungatedMethods.contains(path) {
            guard let method = methods[path] else { continue }
            // Found on the method's first call, not here: probing every request type (a JSON read each,
            // full of the runtime's conformance look-ups) cost the dev server a third of its start-up.
            let field = NamespaceGate.FieldOnFirstUse(probe)
            let check: @Sendable (ByteBuffer) throws -> Void = { bytes in
                guard let field = field.number else { return }
                if let namespace = NamespaceGate.stringField(field, in: bytes), !namespace.isEmpty, !exists(namespace) {
                    throw RPCError(code: .notFound, message: "Namespace \(namespace) is not found.")
                }
            }
            switch method {
            case .immediate(let handler):
                setMethod(path, .immediate { bytes, headers in try check(bytes); return try handler(bytes, headers) })
            case .suspending(let handler):
                setMethod(path, .suspending { bytes, headers in try check(bytes); return try await handler(bytes, headers) })
            case .gated(let gate, let handler):
                setMethod(path, .gated(gate) { bytes, headers in try check(bytes); return try handler(bytes, headers) })
            }
        }
    }
}
