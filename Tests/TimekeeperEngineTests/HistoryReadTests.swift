import SwiftProtobuf
import Testing
import TemporalAPI
@testable import TimekeeperEngine

@Suite struct HistoryReadTests {
    func request(_ configure: (inout GetHistoryRequest) -> Void = { _ in }) -> GetHistoryRequest {
        var request = GetHistoryRequest.with {
            $0.namespace = "default"
            $0.execution.workflowID = "wf"
        }
        configure(&request)
        return request
    }

    func page(_ read: HistoryRead) -> GetHistoryResponse? {
        if case .page(let page) = read { return page }
        return nil
    }

    @Test func pagesJoinUpToTheWholeHistory() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])
        var ids: [Int64] = []
        var token = Data()
        repeat {
            let current = token
            let response = try #require(page(try scenario.core.readHistory(request {
                $0.maximumPageSize = 2
                $0.nextPageToken = current
            })))
            #expect(response.history.events.count <= 2)
            ids += response.history.events.map(\.eventID)
            token = response.nextPageToken
        } while !token.isEmpty
        #expect(ids == [1, 2, 3, 4, 5])
    }

    @Test func theCloseEventFilterWaitsForTheCloseThenReturnsOnlyIt() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let closeFilter = request { $0.waitNewEvent = true; $0.historyEventFilterType = .closeEvent }
        guard case .waitForChange(let runID, _) = try scenario.core.readHistory(closeFilter) else {
            Issue.record("an open run makes a close-event long poll wait")
            return
        }
        #expect(runID == "run-1")
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])
        let response = try #require(page(try scenario.core.readHistory(closeFilter)))
        #expect(response.history.events.map(\.eventType) == [.workflowExecutionCompleted])
    }

    @Test func aLongPollPastTheLastEventWaitsForTheNextOne() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let all = try #require(page(try scenario.core.readHistory(request { $0.waitNewEvent = true })))
        #expect(all.history.events.count == 2)
        #expect(!all.nextPageToken.isEmpty, "an open run's long poll always gets a token to continue from")
        let next = request { $0.waitNewEvent = true; $0.nextPageToken = all.nextPageToken }
        guard case .waitForChange(_, let emptyPage) = try scenario.core.readHistory(next) else {
            Issue.record("nothing new yet, so the poll waits")
            return
        }
        // Regression (issue 10): a wait that ended with nothing new answered neither `history` nor a token,
        // and the Go SDK (inside the Temporal CLI: `temporal workflow result`) dereferenced `history`.
        #expect(emptyPage.hasHistory && emptyPage.history.events.isEmpty)
        #expect(emptyPage.nextPageToken == all.nextPageToken, "poll again from the same place")
        _ = try scenario.poll()
        #expect(try page(scenario.core.readHistory(next))?.history.events.map(\.eventType) == [.workflowTaskStarted])
    }

    @Test func unknownExecutionsAndBadTokensAreReportedPrecisely() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let missing = try #require(throws: EngineError.self) {
            try scenario.core.readHistory(request { $0.execution.workflowID = "nope" })
        }
        #expect(missing.code == .notFound)
        let badToken = try #require(throws: EngineError.self) {
            try scenario.core.readHistory(request { $0.nextPageToken = Data("xx".utf8) })
        }
        #expect(badToken.code == .invalidArgument)
        #expect(badToken.message.contains("next_page_token"))
        let noID = try #require(throws: EngineError.self) {
            try scenario.core.readHistory(request { $0.execution.workflowID = "" })
        }
        #expect(noID.message.contains("execution.workflow_id"))
    }
}

import Foundation
