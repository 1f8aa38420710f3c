import Foundation
import Logging
import Synchronization
import TimekeeperEngine
import TimekeeperServer
import TimekeeperStore

/// `timekeeper server start-dev …`: the launch contract of Temporal's CLI dev server, which is what the SDKs'
/// `start_local(dev_server_existing_path=…)` runs. The clock is the wall clock (nothing skips), every
/// namespace `--namespace` names exists from the start, and `--search-attribute` registers attributes in
/// them; a search attribute nobody registered is refused, as the dev server refuses it. With
/// `--db-filename` every transition is committed to that SQLite file before anyone hears of it, and a
/// server started again on the file goes on from it; without, everything is in memory, as the CLI's is.
///
/// Read by hand, as the SDK launch form is (see `TestServerLaunch.init(sdkArguments:)`), so that readiness
/// does not pay for ArgumentParser's reflection. Go flags: `--name value` or `--name=value`.
struct DevServerLaunch {
    var port = 7233
    var host = "127.0.0.1"
    var namespaces: [String] = []
    var logLevel: Logger.Level = .notice
    var uiPort: Int?
    var dynamicConfig: [DynamicConfigValue] = []
    var searchAttributes: [String: SearchAttributeType] = [:]
    /// The durable store's file (`nil`: in memory) and the pragmas asked for it.
    var databaseFile: String?
    var pragmas: [(String, String)] = []
    /// Lines to log once the logger is up (flags accepted but not used).
    var notes: [String] = []

    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    /// The file `timekeeper dev` keeps its state in unless `--db-filename` names another.
    static let defaultDatabaseFile = "timekeeper.sqlite"

    /// `nil` when the arguments are not the dev-server form; throws when they are but something is wrong.
    /// `server start-dev` is the CLI's form (in memory unless `--db-filename`); `dev` is ours, the same
    /// server durable by default (`--db-filename timekeeper.sqlite` in the working directory).
    init?(arguments: [String]) throws(Refusal) {
        var rest: ArraySlice<String>
        if arguments.count >= 2, arguments[0] == "server", arguments[1] == "start-dev" {
            rest = arguments.dropFirst(2)
        } else if arguments.first == "dev" {
            rest = arguments.dropFirst()
            databaseFile = Self.defaultDatabaseFile
        } else {
            return nil
        }
        while let argument = rest.popFirst() {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let (name, inline) = parts.count == 2 ? (parts[0], Optional(parts[1])) : (argument, nil)
            if name == "--headless" { continue }  // no UI unless --ui-port asks for one
            guard let value = inline ?? rest.popFirst() else { throw Refusal(description: "\(name) needs a value") }
            switch name {
            case "--port", "-p": port = try Self.port(value, flag: name)
            case "--ui-port": uiPort = try Self.port(value, flag: name)
            case "--ip": host = value
            case "--namespace", "-n": namespaces.append(value)
            case "--log-level": logLevel = try Self.level(value)
            case "--log-format": notes.append("--log-format \(value): timekeeper logs plain lines")
            case "--dynamic-config-value":
                guard let entry = DynamicConfigValue(value) else { throw Refusal(description: "--dynamic-config-value \(value) is not KEY=VALUE") }
                dynamicConfig.append(entry)
            case "--search-attribute":
                let pair = value.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2, !pair[0].isEmpty, let type = SearchAttributeType(named: pair[1]) else {
                    throw Refusal(description: "--search-attribute \(value) is not NAME=TYPE with TYPE one of Text, Keyword, Int, Double, Bool, Datetime, KeywordList")
                }
                searchAttributes[pair[0]] = type
            case "--sqlite-pragma":
                let pair = value.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { throw Refusal(description: "--sqlite-pragma \(value) is not NAME=VALUE") }
                pragmas.append((pair[0], pair[1]))
            case "--db-filename", "-f":
                guard !value.isEmpty else { throw Refusal(description: "--db-filename needs a file name") }
                databaseFile = value
            default:
                throw Refusal(description: "\(name) is not a `server start-dev` flag timekeeper knows")
            }
        }
    }

    private static func port(_ text: String, flag: String) throws(Refusal) -> Int {
        guard let port = Int(text), (0...65_535).contains(port) else { throw Refusal(description: "\(flag) \(text) is not a port") }
        return port
    }

    /// Temporal's CLI levels (debug, info, warn, error, fatal; the Python SDK passes its logger's) and ours.
    private static func level(_ text: String) throws(Refusal) -> Logger.Level {
        switch text.lowercased() {
        case "debug": return .debug
        case "info": return .info
        case "warn", "warning": return .warning
        case "error": return .error
        case "fatal", "panic", "never", "critical": return .critical
        default:
            if let level = Logger.Level(rawValue: text) { return level }
            throw Refusal(description: "--log-level \(text) is not one of debug, info, warn, error, fatal")
        }
    }

    func run() async throws {
        let logger = startLogging(at: logLevel)
        for note in notes { logger.notice("\(note)") }
        var engine = engineConfiguration(skipsTime: false, startsLocked: false, dynamicConfig, logger: logger)
        engine.registersSearchAttributesOnFirstUse = false
        engine.deletesClosedRunsAfterRetention = true
        var options = ServerOptions(host: host, port: port, engine: engine, uiPort: uiPort)
        options.namespaces = namespaces
        options.searchAttributes = searchAttributes
        options.requiresRegisteredNamespaces = true
        // The store's file is claimed, then the store opened, on the recovery thread while the server starts
        // listening (see `Engine.recoverInBackground`); kept here to be closed after a graceful shutdown.
        let opened = Mutex<SQLiteExecutionStore?>(nil)
        if let databaseFile {
            try SQLiteExecutionStore.checkPragmas(pragmas)
            let pragmas = pragmas
            options.claimStore = { barrier in
                let claim = try FileClaim(path: databaseFile)
                return StoreClaim {
                    let began = ContinuousClock.now
                    let store = try SQLiteExecutionStore(claim: claim, pragmas: pragmas, barrier: barrier)
                    logger.info("durable store \(databaseFile) opened in \(ContinuousClock.now - began)")
                    opened.withLock { $0 = store }
                    return store
                }
            }
        } else if !pragmas.isEmpty {
            logger.notice("--sqlite-pragma ignored: without --db-filename the store is in memory")
        }
        try await serveUntilSignalled(options, logger: logger)
        if var durable = opened.withLock({ $0 }) {
            durable.close()  // after a graceful shutdown: what the writer still holds is committed first
            let (transitions, commits) = durable.writer.statistics
            logger.info("durable store closed: \(transitions) transitions in \(commits) commits")
        }
    }
}

extension SearchAttributeType {
    /// The type as the dev server's `--search-attribute NAME=TYPE` spells it (case-insensitive).
    init?(named text: String) {
        guard let type = Self.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else { return nil }
        self = type
    }
}
