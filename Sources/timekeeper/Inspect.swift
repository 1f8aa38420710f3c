import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import TemporalAPI

/// Where a running server is, and how to print what it says.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The server's address, HOST:PORT.")
    var address = "127.0.0.1:7233"

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(help: "Namespace.")
    var namespace = "default"

    enum OutputFormat: String, ExpressibleByArgument { case text, json }

    /// Runs `body` with a client connected to the server.
    func withClient<T: Sendable>(_ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T) async throws -> T {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("--address must be HOST:PORT, not \(address)")
        }
        let host = String(address[..<colon])
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: host, port: port), transportSecurity: .plaintext)
        return try await withGRPCClient(transport: transport) { client in try await body(client) }
    }

    /// Runs `body` with a client of the server's inspection service.
    func withInspection<T: Sendable>(
        _ body: (Timekeeper_Inspection_V1_InspectionService.Client<HTTP2ClientTransport.Posix>) async throws -> T
    ) async throws -> T {
        try await withClient { client in try await body(.init(wrapping: client)) }
    }

    func printJSON(_ message: some SwiftProtobuf.Message) throws {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        print(try message.jsonString(options: options))
    }
}

/// `timekeeper clock`: virtual now, the lock count and who holds it, recent jumps, traps.
struct ClockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clock", abstract: "Show a running server's virtual clock: lock count, holders, recent jumps.")

    @OptionGroup var connection: ConnectionOptions

    func execute() async throws {
        let clock = try await connection.withInspection { try await $0.getClock(.init()) }
        if connection.output == .json { return try connection.printJSON(clock) }
        print("virtual now  \(Text.time(clock.virtualTime))")
        print("wall now     \(Text.time(clock.wallTime))")
        let rule = clock.skipsTime
            ? (clock.lockCount > 0 ? "held: time flows at wall speed" : "free: the clock jumps to the next entry")
            : "wall clock: never jumps"
        print("lock count   \(clock.lockCount) (\(rule))")
        if !clock.holders.isEmpty {
            print("held by")
            for holder in clock.holders { print("  \(holder.count)  \(holder.description_p)") }
        }
        print("recent jumps (oldest first)")
        if clock.recentJumps.isEmpty { print("  none") }
        for jump in clock.recentJumps.suffix(20) { print("  at \(Text.time(jump.wallTime)) wall: \(jump.summary)") }
        for trap in clock.traps { print("WARNING \(trap.explanation)") }
    }
}

/// `timekeeper timetable`: pending entries, soonest first.
struct TimetableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timetable", abstract: "List a running server's pending timetable entries, soonest first.")

    @OptionGroup var connection: ConnectionOptions

    func execute() async throws {
        let table = try await connection.withInspection { try await $0.listTimetable(.init()) }
        if connection.output == .json { return try connection.printJSON(table) }
        print("virtual now \(Text.time(table.virtualTime))")
        let rows = table.entries.map { entry in
            [Text.time(entry.fireTime), Text.duration(entry.timeLeft), entry.kind,
             entry.workflowID.isEmpty ? "test client" : "\(entry.workflowID) (run \(entry.runID))"]
        }
        Text.printTable(header: ["FIRE TIME", "TIME LEFT", "KIND", "OWNER"], rows: rows)
    }
}

/// `timekeeper workflow list|show|describe`.
struct WorkflowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow", abstract: "List, show and describe a running server's workflows.",
        subcommands: [List.self, Show.self, Describe.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List workflow runs, newest first (with --query: the runs it matches, in the list's order).")
        @OptionGroup var connection: ConnectionOptions
        @Option(
            name: [.customShort("q"), .long],
            help: "A list filter, as `temporal workflow list --query` takes it, e.g. \"WorkflowType = 'Hello' AND ExecutionStatus = 'Running'\".")
        var query = ""

        func execute() async throws {
            let list: Timekeeper_Inspection_V1_ListWorkflowsResponse
            do {
                list = try await connection.withInspection { inspection in
                    try await inspection.listWorkflows(.with { $0.namespace = connection.namespace; $0.query = query })
                }
            } catch let error as RPCError where error.code == .invalidArgument {
                // The server's words, which name where the query went wrong.
                FileHandle.standardError.write(Data("timekeeper: \(error.message)\n".utf8))
                throw ExitCode.failure
            }
            if connection.output == .json { return try connection.printJSON(list) }
            Text.printTable(
                header: ["WORKFLOW ID", "RUN ID", "TYPE", "STATUS", "START TIME", "EVENTS"],
                rows: list.workflows.map {
                    [$0.workflowID, $0.runID, $0.workflowType, $0.status + ($0.trap.isEmpty ? "" : " (trap!)"),
                     Text.time($0.startTime), String($0.historyLength)]
                })
            for workflow in list.workflows where !workflow.trap.isEmpty { print("WARNING \(workflow.trap)") }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a workflow run's history.")
        @OptionGroup var connection: ConnectionOptions
        @Option(name: [.customShort("w"), .long], help: "Workflow id.") var workflowID: String
        @Option(name: [.customShort("r"), .long], help: "Run id (default: the latest run).") var runID = ""

        func execute() async throws {
            let history = try await connection.withClient { client in
                let service = Temporal_Api_Workflowservice_V1_WorkflowService.Client(wrapping: client)
                var events: [Temporal_Api_History_V1_HistoryEvent] = []
                var token = Data()
                repeat {
                    let page = try await service.getWorkflowExecutionHistory(.with {
                        $0.namespace = connection.namespace
                        $0.execution = .with { $0.workflowID = workflowID; $0.runID = runID }
                        $0.nextPageToken = token
                    })
                    events += page.history.events
                    token = page.nextPageToken
                } while !token.isEmpty
                return Temporal_Api_History_V1_History.with { $0.events = events }
            }
            if connection.output == .json { return try connection.printJSON(history) }
            Text.printTable(
                header: ["ID", "TIME", "TYPE"],
                rows: history.events.map { [String($0.eventID), Text.time($0.eventTime), Text.caseName($0.eventType)] })
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a workflow run.")
        @OptionGroup var connection: ConnectionOptions
        @Option(name: [.customShort("w"), .long], help: "Workflow id.") var workflowID: String
        @Option(name: [.customShort("r"), .long], help: "Run id (default: the latest run).") var runID = ""

        func execute() async throws {
            let (description, list) = try await connection.withClient { client in
                let description = try await Temporal_Api_Workflowservice_V1_WorkflowService.Client(wrapping: client)
                    .describeWorkflowExecution(.with {
                        $0.namespace = connection.namespace
                        $0.execution = .with { $0.workflowID = workflowID; $0.runID = runID }
                    })
                let list = try await Timekeeper_Inspection_V1_InspectionService.Client(wrapping: client)
                    .listWorkflows(.with { $0.namespace = connection.namespace })
                return (description, list)
            }
            if connection.output == .json { return try connection.printJSON(description) }
            let info = description.workflowExecutionInfo
            print("workflow id  \(info.execution.workflowID)")
            print("run id       \(info.execution.runID)")
            print("type         \(info.type.name)")
            print("status       \(Text.caseName(info.status))")
            print("task queue   \(info.taskQueue)")
            print("start time   \(Text.time(info.startTime))")
            if info.hasCloseTime { print("close time   \(Text.time(info.closeTime))") }
            print("events       \(info.historyLength)")
            if description.workflowExtendedInfo.hasTimeSkippingInfo {
                let skipping = description.workflowExtendedInfo.timeSkippingInfo
                var state = skipping.effectiveConfig.enabled ? "skipping on" : "skipping off"
                state += ", \(skipping.currentSessionSkipCount) skips this session"
                if skipping.hasFastForwardInfo {
                    let fastForward = skipping.fastForwardInfo
                    state += ", fast-forward \(fastForward.fastForwardID) to \(Text.time(fastForward.targetTime))"
                        + (fastForward.hasCompleted_p ? " (reached)" : "")
                }
                print("own clock    \(Text.time(skipping.currentTime)) (time skipping V2: \(state))")
            }
            if let trap = list.workflows.first(where: { $0.runID == info.execution.runID && !$0.trap.isEmpty }) {
                print("WARNING \(trap.trap)")
            }
        }
    }
}

/// Human-readable formatting for the inspection commands.
enum Text {
    static func time(_ timestamp: Google_Protobuf_Timestamp) -> String {
        ((try? timestamp.jsonString()) ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    static func duration(_ duration: Google_Protobuf_Duration) -> String {
        var seconds = duration.seconds
        let days = seconds / 86_400; seconds %= 86_400
        let hours = seconds / 3600; seconds %= 3600
        let minutes = seconds / 60; seconds %= 60
        if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
        if hours > 0 { return "\(hours)h \(minutes)m \(seconds)s" }
        if minutes > 0 { return "\(minutes)m \(seconds)s" }
        return String(format: "%.3fs", Double(seconds) + Double(duration.nanos) / 1e9)
    }

    /// An enum case as the Temporal CLI prints it: workflowExecutionStarted → WorkflowExecutionStarted.
    static func caseName(_ value: some Enum) -> String {
        let name = String(describing: value)
        return name.prefix(1).uppercased() + name.dropFirst()
    }

    static func printTable(header: [String], rows: [[String]]) {
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }
}
