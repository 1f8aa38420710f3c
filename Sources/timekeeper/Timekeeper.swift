public import ArgumentParser
import Foundation
public import Logging
import ServiceLifecycle
import TimekeeperEngine
import TimekeeperServer
import UnixSignals

/// `timekeeper`: a Temporal-compatible workflow server with a clock that explains itself.

struct Timekeeper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timekeeper",
        abstract: "A Temporal-compatible time-skipping test server and dev server.",
        usage: """
            timekeeper PORT [--enable-time-skipping] [--host <host>] [--ui-port <port>] [--log-level <level>]
              timekeeper test-server [--port <port>] [--enable-time-skipping] [--ui-port <port>]
              timekeeper server start-dev [--port <port>] [--ip <ip>] [--namespace <ns>]… [--search-attribute NAME=TYPE]…
                [--ui-port <port> | --headless] [--log-level <level>] [--dynamic-config-value KEY=VALUE]…
                [--db-filename FILE] [--sqlite-pragma NAME=VALUE]…
              timekeeper dev [the start-dev flags]   (durable in ./timekeeper.sqlite unless --db-filename)
              timekeeper clock|timetable [--address HOST:PORT] [--output text|json]
              timekeeper workflow list|show|describe [--address HOST:PORT] [--output text|json]
            """,
        discussion: """
            Started as `timekeeper PORT [--enable-time-skipping]`, it behaves like Temporal's Java test \
            server, which is how SDKs launch it (e.g. Python's test_server_existing_path). Started as \
            `timekeeper server start-dev …`, it is a dev server with a real clock, launched as SDKs launch \
            Temporal's CLI dev server (Python's start_local(dev_server_existing_path=…)); its store is in             memory unless --db-filename names a SQLite file, which it then goes on from when started again.             `timekeeper dev` is the same dev server, durable in ./timekeeper.sqlite by default.
            """,
        subcommands: [LaunchedBySDK.self, TestServer.self, ClockCommand.self, TimetableCommand.self, WorkflowCommand.self],
        defaultSubcommand: LaunchedBySDK.self
    )
}

/// Options shared by the test-server forms.
struct TestServerOptions: ParsableArguments {
    @Flag(name: .customLong("enable-time-skipping"),
          help: "Start with time skipping unlocked (by default one client lock is held until a client unlocks).")
    var enableTimeSkipping = false

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Serve the web page (workflows, histories, the clock's timeline) on this port.")
    var uiPort: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .notice

    @Option(name: .customLong("dynamic-config-value"),
            help: "KEY=VALUE, as Temporal's dev server takes it (repeatable; keys timekeeper does not use are ignored).")
    var dynamicConfig: [DynamicConfigValue] = []

    func run(port: Int) async throws {
        try await TestServerLaunch(
            port: port, enableTimeSkipping: enableTimeSkipping, host: host, uiPort: uiPort, logLevel: logLevel,
            dynamicConfig: dynamicConfig
        ).run()
    }
}

/// Everything needed to run the test server, however the command line was read.
struct TestServerLaunch {
    var port: Int
    var enableTimeSkipping = false
    var host = "127.0.0.1"
    var uiPort: Int?
    var logLevel: Logger.Level = .notice
    var dynamicConfig: [DynamicConfigValue] = []

    func run() async throws {
        let logger = startLogging(at: logLevel)
        let engine = engineConfiguration(skipsTime: true, startsLocked: !enableTimeSkipping, dynamicConfig, logger: logger)
        let options = ServerOptions(host: host, port: port, engine: engine, uiPort: uiPort)
        try await serveUntilSignalled(options, logger: logger)
    }
}

/// Logs go to standard error at `level`; answers the server's logger.
func startLogging(at level: Logger.Level) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: "timekeeper")
}

/// The engine's configuration for a mode, with the `--dynamic-config-value`s it honours (the rest are logged).
func engineConfiguration(skipsTime: Bool, startsLocked: Bool, _ dynamicConfig: [DynamicConfigValue], logger: Logger)
    -> EngineCore.Configuration
{
    var engine = EngineCore.Configuration(skipsTime: skipsTime, startsLocked: startsLocked)
    for note in DynamicConfigValue.apply(dynamicConfig, to: &engine) { logger.notice("\(note)") }
    return engine
}

/// Runs the server until SIGTERM or SIGINT, which drain it gracefully (GOAWAY, in-flight calls answered,
/// then exit 0); a second signal during the drain exits at once. (SDKs stop test servers with SIGKILL,
/// which needs nothing from us.)
func serveUntilSignalled(_ options: ServerOptions, logger: Logger) async throws {
    var configuration = ServiceGroupConfiguration(
        services: [.init(service: TimekeeperService(options: options, logger: logger), serviceName: "timekeeper")],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    // The connections' own drain gives up after 5 s; this is the backstop (then every connection is closed).
    configuration.maximumGracefulShutdownDuration = .seconds(10)
    let group = ServiceGroup(configuration: configuration)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        tasks.addTask {
            var seen = 0
            for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                seen += 1
                if seen >= 2 {
                    logger.warning("second \(signal) during the drain: exiting at once")
                    exit(1)
                }
            }
        }
        try await tasks.next()
        tasks.cancelAll()
    }
}

extension TestServerLaunch {
    /// Reads the SDK launch form, `PORT [--enable-time-skipping] [--host H] [--ui-port P] [--log-level L]
    /// [--dynamic-config-value K=V …]`,
    /// without ArgumentParser. SDKs launch us this way, and ArgumentParser's reflection triggers protocol
    /// conformance scans over the whole generated API (a quarter of start-up time). Anything unusual gives
    /// `nil`, and ArgumentParser then reads the line and reports what is wrong.
    init?(sdkArguments arguments: [String]) {
        guard let first = arguments.first, let port = Int(first), (0...65_535).contains(port) else { return nil }
        self.port = port
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            // Java's test server reads the flag case-insensitively.
            if argument.lowercased() == "--enable-time-skipping" {
                enableTimeSkipping = true
                continue
            }
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let (name, inlineValue) = parts.count == 2 ? (parts[0], Optional(parts[1])) : (argument, nil)
            guard let value = inlineValue ?? rest.popFirst() else { return nil }
            switch name {
            case "--host": host = value
            case "--ui-port":
                guard let uiPort = Int(value), (0...65_535).contains(uiPort) else { return nil }
                self.uiPort = uiPort
            case "--log-level":
                guard let level = Logger.Level(rawValue: value) else { return nil }
                logLevel = level
            case "--dynamic-config-value":
                guard let entry = DynamicConfigValue(value) else { return nil }
                dynamicConfig.append(entry)
            default: return nil
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `timekeeper PORT [--enable-time-skipping]`: the launch contract of Temporal's test server.
struct LaunchedBySDK: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch", abstract: "Run the test server on PORT (the form SDKs use).", shouldDisplay: false)

    @Argument(help: "Port to listen on (0 picks a free one).")
    var port: Int

    @OptionGroup var options: TestServerOptions

    func execute() async throws { try await options.run(port: port) }
}

/// `timekeeper test-server --port P`: the same server, spelled out.
struct TestServer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the time-skipping test server.")

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 7233

    @OptionGroup var options: TestServerOptions

    func execute() async throws { try await options.run(port: port) }
}
