import NIOCore
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperServer

/// The dev server's namespace gate reads a request's `namespace` from its bytes: the right field for each
/// request type, and nothing (rather than a crash or a wrong answer) from bytes that are not a message.
@Suite struct NamespaceGateTests {
    @Test func theNamespaceFieldIsFoundFromTheRequestTypeItself() {
        #expect(NamespaceGate.fieldNumber(of: Temporal_Api_Workflowservice_V1_StartWorkflowExecutionRequest.self) == 1)
        #expect(NamespaceGate.fieldNumber(of: Temporal_Api_Operatorservice_V1_ListSearchAttributesRequest.self) == 1)
        // GetSystemInfo has no namespace; a ListNamespaces request neither.
        #expect(NamespaceGate.fieldNumber(of: Temporal_Api_Workflowservice_V1_GetSystemInfoRequest.self) == nil)
        #expect(NamespaceGate.fieldNumber(of: Temporal_Api_Workflowservice_V1_ListNamespacesRequest.self) == nil)
    }

    @Test func theNamespaceIsReadAmongOtherFields() throws {
        let request = Temporal_Api_Workflowservice_V1_SignalWorkflowExecutionRequest.with {
            $0.namespace = "orders"
            $0.workflowExecution.workflowID = "w"
            $0.signalName = "go"
            $0.identity = "me"
        }
        let field = try #require(NamespaceGate.fieldNumber(of: Temporal_Api_Workflowservice_V1_SignalWorkflowExecutionRequest.self))
        #expect(NamespaceGate.stringField(field, in: ByteBuffer(bytes: try request.serializedBytes() as [UInt8])) == "orders")
        #expect(NamespaceGate.stringField(field, in: ByteBuffer(bytes: [])) == nil)
    }

    @Test func bytesThatAreNotAMessageGiveNothing() {
        let cases: [[UInt8]] = [
            [0x0a, 0xff],                                    // a length running past the end
            [0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],  // a length of 2^63 and more
            Array(repeating: 0x80, count: 20),               // a varint that never ends
            [0x00],                                          // field number 0
            [0x0b, 0x0c],                                    // a group
            [0x09, 1, 2, 3],                                 // a fixed64 cut short
        ]
        for bytes in cases {
            #expect(NamespaceGate.stringField(1, in: ByteBuffer(bytes: bytes)) == nil, "\(bytes)")
        }
    }
}
