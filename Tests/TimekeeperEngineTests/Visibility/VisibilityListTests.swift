import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// `listWorkflows` / `countWorkflows` over the core's runs: the filter, the order, paging, grouping, and
/// refusals that name the query's fault.
@Suite struct VisibilityListTests {
    static func scenario() throws -> Scenario {
        var scenario = Scenario()
        for id in ["a", "b"] {
            _ = try scenario.start(id, requestID: "req-\(id)")
            try scenario.complete(try #require(try scenario.poll()), [completeCommand()])
        }
        _ = try scenario.start("c", requestID: "req-c") { $0.workflowType.name = "Other" }
        scenario.advanceWall(by: .seconds(1))
        _ = try scenario.start("d", requestID: "req-d")
        return scenario
    }

    func ids(_ core: EngineCore, _ query: String, pageSize: Int32 = 0, token: Data = Data()) throws(EngineError)
        -> ([String], Data)
    {
        var core = core  // a list brings the records of changed runs up to date
        let response = try core.listWorkflows(.with {
            $0.namespace = "default"; $0.query = query; $0.pageSize = pageSize; $0.nextPageToken = token
        })
        return (response.executions.map(\.execution.workflowID), response.nextPageToken)
    }

    @Test func aQuerySelectsByTypeAndStatusNewestFirst() throws {
        let core = try Self.scenario().core
        #expect(try ids(core, "ExecutionStatus = 'Running'").0 == ["d", "c"])
        #expect(try ids(core, "WorkflowType = 'Hello' AND ExecutionStatus = 'Completed'").0.sorted() == ["a", "b"])
        #expect(try ids(core, "WorkflowType = 'Other'").0 == ["c"])
        #expect(try ids(core, "").0.count == 4)
    }

    @Test func pagesJoinUpToEveryMatchOnce() throws {
        let core = try Self.scenario().core
        var seen: [String] = []
        var token = Data()
        repeat {
            let (page, next) = try ids(core, "", pageSize: 3, token: token)
            #expect(page.count <= 3)
            seen += page
            token = next
        } while !token.isEmpty
        #expect(seen.sorted() == ["a", "b", "c", "d"])
    }

    @Test func countsGroupByStatus() throws {
        var core = try Self.scenario().core
        let grouped = try core.countWorkflows(.with { $0.namespace = "default"; $0.query = "GROUP BY ExecutionStatus" })
        #expect(grouped.count == 4)
        let groups = grouped.groups.map { (String(decoding: $0.groupValues[0].data, as: UTF8.self), $0.count) }
        #expect(groups.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" } == ["\"Completed\"=2", "\"Running\"=2"])
    }

    @Test func aBadQueryOrTokenIsInvalidArgument() throws {
        let core = try Self.scenario().core
        for query in ["WorkflowId =", "Unknown = 1", "StartTime = 'yesterday'"] {
            #expect(throws: EngineError.self) { try ids(core, query) }
            do throws(EngineError) {
                _ = try ids(core, query)
            } catch {
                #expect(error.code == .invalidArgument && error.message.hasPrefix("invalid query: "), "\(error)")
            }
        }
        #expect(throws: EngineError.self) { try ids(core, "", token: Data("nonsense".utf8)) }
    }

    @Test func recordsFollowRunsChangedBetweenQueries() throws {
        var scenario = try Self.scenario()
        let running = try scenario.core.listWorkflows(.with { $0.namespace = "default"; $0.query = "ExecutionStatus = 'Running'" })
        #expect(running.executions.map(\.execution.workflowID).sorted() == ["c", "d"])
        #expect(scenario.core.visibility.stale.isEmpty)
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])  // c, the oldest task
        _ = try scenario.start("e", requestID: "req-e")
        try scenario.core.deleteWorkflow(.with {
            $0.namespace = "default"
            $0.workflowExecution.workflowID = "a"
        }, wallNow: scenario.wall)
        var core = scenario.core
        _ = try core.listWorkflows(.with { $0.namespace = "default" })
        #expect(try ids(core, "ExecutionStatus = 'Running'").0.sorted() == ["d", "e"])
        #expect(try ids(core, "ExecutionStatus = 'Completed'").0.sorted() == ["b", "c"])
        #expect(core.visibility.records["default"]?.count == 4)
    }

    @Test func anEqualityOnAKeywordLooksUpItsRunsAndFollowsUpsertsAndDeletes() throws {
        func colour(_ name: String) -> Temporal_Api_Common_V1_Payload {
            .with {
                $0.metadata["encoding"] = Data("json/plain".utf8)
                $0.metadata["type"] = Data("Keyword".utf8)
                $0.data = Data("\"\(name)\"".utf8)
            }
        }
        var scenario = Scenario()
        for (id, name) in [("r1", "red"), ("r2", "red"), ("b1", "blue")] {
            _ = try scenario.start(id, requestID: id) { $0.searchAttributes.indexedFields = ["Colour": colour(name)] }
        }
        #expect(try ids(scenario.core, "Colour = 'red'").0.sorted() == ["r1", "r2"])
        // r1's first task upserts blue; b1 is deleted.
        let task = try #require(try scenario.poll())
        #expect(task.workflowExecution.workflowID == "r1")
        try scenario.complete(task, [.with {
            $0.commandType = .upsertWorkflowSearchAttributes
            $0.upsertWorkflowSearchAttributesCommandAttributes.searchAttributes.indexedFields = ["Colour": colour("blue")]
        }])
        try scenario.core.deleteWorkflow(.with { $0.namespace = "default"; $0.workflowExecution.workflowID = "b1" },
                                         wallNow: scenario.wall)
        #expect(try ids(scenario.core, "Colour = 'red'").0 == ["r2"])
        #expect(try ids(scenario.core, "Colour IN ('blue', 'green') AND WorkflowType = 'Hello'").0 == ["r1"])
        #expect(try ids(scenario.core, "Colour = 'red' OR WorkflowId = 'r1'").0.sorted() == ["r1", "r2"])
        #expect(try ids(scenario.core, "WorkflowId = 'b1'").0.isEmpty)
    }
}
