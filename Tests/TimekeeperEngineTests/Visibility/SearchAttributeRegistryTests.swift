import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// Registering, removing and checking custom search attributes: Temporal's refusals, registration on first
/// use, and a registered type holding a value to it whatever type the payload names.
@Suite struct SearchAttributeRegistryTests {
    func payload(_ json: String, type: String? = nil) -> Temporal_Api_Common_V1_Payload {
        .with {
            $0.metadata["encoding"] = Data("json/plain".utf8)
            if let type { $0.metadata["type"] = Data(type.utf8) }
            $0.data = Data(json.utf8)
        }
    }

    func add(_ scenario: inout Scenario, _ attributes: [String: Temporal_Api_Enums_V1_IndexedValueType]) throws(EngineError) {
        try scenario.core.addSearchAttributes(.with { $0.namespace = "default"; $0.searchAttributes = attributes },
                                              wallNow: scenario.wall)
    }

    func refusal(_ body: () throws(EngineError) -> Void) -> EngineError? {
        do throws(EngineError) { try body() } catch { return error }
        return nil
    }

    @Test func addRegistersKeepsAnExistingTypeAndRefusesSystemNamesAndBadTypesWhole() throws {
        var scenario = Scenario()
        try add(&scenario, ["Colour": .keyword, "Size": .int])
        try add(&scenario, ["Colour": .int])  // Temporal answers OK and keeps Keyword
        #expect(scenario.core.customSearchAttributes(namespace: "default") == ["Colour": .keyword, "Size": .int])
        let cases: [([String: Temporal_Api_Enums_V1_IndexedValueType], String)] = [
            (["Shade": .keyword, "WorkflowId": .keyword], "Search attribute WorkflowId is reserved by system."),
            (["TemporalThing": .keyword], "Search attribute TemporalThing is reserved by system."),
            (["Shade": .unspecified], "Unable to create search attributes: cannot have more than 0 search attribute of type Unspecified."),
            (["Shade": .UNRECOGNIZED(99)], "Unknown search attribute type: 99."),
            ([:], "SearchAttributes are not set on request."),
        ]
        for (attributes, message) in cases {
            #expect(refusal { () throws(EngineError) in try add(&scenario, attributes) }?.message == message)
        }
        #expect(scenario.core.customSearchAttributes(namespace: "default").keys.sorted() == ["Colour", "Size"])

        let removeSystem = RemoveSearchAttributesRequest.with { $0.namespace = "default"; $0.searchAttributes = ["Size", "RunId"] }
        #expect(refusal { () throws(EngineError) in try scenario.core.removeSearchAttributes(removeSystem, wallNow: scenario.wall) }?
            .message == "Unable to remove non-custom search attributes: RunId.")
        try scenario.core.removeSearchAttributes(.with { $0.namespace = "default"; $0.searchAttributes = ["Size", "Unknown"] },
                                                 wallNow: scenario.wall)
        #expect(scenario.core.customSearchAttributes(namespace: "default") == ["Colour": .keyword])
    }

    @Test func aStartIsCheckedAgainstTheRegisteredTypeAndRegistersWhatItUsesFirst() throws {
        var scenario = Scenario()
        try add(&scenario, ["Size": .int])
        let refused = refusal { () throws(EngineError) in
            _ = try scenario.start("a", requestID: "a") {
                $0.searchAttributes.indexedFields = ["Size": payload("\"abc\"", type: "Keyword")]
            }
        }
        #expect(refused?.message == "invalid value for search attribute Size of type Int: \"abc\"")
        #expect(scenario.core.runs.isEmpty)
        // SDKs' untyped API sends a list; a list of the type's values is read (the first is the value), as
        // Temporal's dev server reads it; a list with another type's value is refused.
        let mixed = refusal { () throws(EngineError) in
            _ = try scenario.start("a", requestID: "a") { $0.searchAttributes.indexedFields = ["Size": payload("[5, \"x\"]")] }
        }
        #expect(mixed?.message == "invalid value for search attribute Size of type Int: [5, \"x\"]")
        #expect(EngineCore.decode(Data("[5]".utf8), as: .int) == .int(5))
        #expect(EngineCore.decode(Data("[true]".utf8), as: .bool) == .bool(true))
        let system = refusal { () throws(EngineError) in
            _ = try scenario.start("a", requestID: "a") { $0.searchAttributes.indexedFields = ["ExecutionStatus": payload("\"x\"")] }
        }
        #expect(system?.message == "ExecutionStatus attribute can't be set in SearchAttributes")
        let long = String(repeating: "x", count: 2100)
        let tooLong = refusal { () throws(EngineError) in
            _ = try scenario.start("a", requestID: "a") { $0.searchAttributes.indexedFields = ["Note": payload("\"\(long)\"", type: "Keyword")] }
        }
        #expect(tooLong?.message == "search attribute Note value size 2102 exceeds size limit 2048")

        _ = try scenario.start("a", requestID: "a") {
            $0.searchAttributes.indexedFields = ["Size": payload("7"), "Shade": payload("\"red\"", type: "Keyword")]
        }
        #expect(scenario.core.customSearchAttributes(namespace: "default") == ["Size": .int, "Shade": .keyword])
        let listed = try scenario.core.listWorkflows(.with { $0.namespace = "default"; $0.query = "Shade = 'red' AND Size = 7" })
        #expect(listed.executions.map(\.execution.workflowID) == ["a"])
    }

    @Test func anUpsertWithABadValueRefusesTheCompletionAndChangesNothing() throws {
        var scenario = Scenario()
        try add(&scenario, ["Size": .int])
        _ = try scenario.start("a", requestID: "a")
        let task = try #require(try scenario.poll())
        let before = scenario.core.history(task.workflowExecution.runID)
        let upsert = Command.with {
            $0.commandType = .upsertWorkflowSearchAttributes
            $0.upsertWorkflowSearchAttributesCommandAttributes.searchAttributes.indexedFields = ["Size": payload("\"big\"", type: "Int")]
        }
        let refused = refusal { () throws(EngineError) in try scenario.complete(task, [upsert]) }
        #expect(refused?.code == .invalidArgument)
        #expect(refused?.message == "BadSearchAttributes: invalid value for search attribute Size of type Int: \"big\"")
        #expect(scenario.core.history(task.workflowExecution.runID) == before)
    }

    @Test func theDevFormRecordsEachValueWithItsRegisteredType() throws {
        var configuration = EngineCore.Configuration(skipsTime: false, startsLocked: false)
        configuration.registersSearchAttributesOnFirstUse = false
        var dev = Scenario(configuration: configuration)
        try add(&dev, ["When": .datetime])
        let started = try dev.start("a") { $0.searchAttributes.indexedFields = ["When": payload("[\"2001-02-03T04:05:06Z\"]")] }
        let recorded = dev.core.history(started.runID)[0].workflowExecutionStartedEventAttributes.searchAttributes
        // As Temporal's servers write it, so that a workflow reads the untyped value as a datetime.
        #expect(recorded.indexedFields["When"]?.metadata["type"] == Data("Datetime".utf8))

        var test = Scenario()
        try add(&test, ["When": .datetime])
        let asSent = try test.start("a") { $0.searchAttributes.indexedFields = ["When": payload("[\"2001-02-03T04:05:06Z\"]")] }
        #expect(test.core.history(asSent.runID)[0].workflowExecutionStartedEventAttributes.searchAttributes
            .indexedFields["When"]?.metadata["type"] == nil, "the test form records it as sent, as the Java test server does")
    }
}
