import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

// Swift concurrency runs on NIO's event-loop threads, so a gRPC handler runs on the thread that read
// its request instead of hopping to the global pool and back: thread switches were the largest item in
// the profile of a burst of workflows. It must happen on the main thread before any task starts, hence
// top-level code here rather than `@main`.
// One event-loop thread by default: the server's work per RPC is small and a test's SDK worker wants the
// other cores (measured on 2 cores: 3.25 vs 3.6 ms of server CPU per workflow in a burst, and lower
// latency). TIMEKEEPER_THREADS overrides it.
// (`getenv`, not `ProcessInfo.environment`, which copies the whole environment into a dictionary first.)
let threads = getenv("TIMEKEEPER_THREADS").flatMap { Int(String(cString: $0)) } ?? 1
NIOSingletons.groupLoopCountSuggestion = max(1, threads)
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

// The SDK launch form skips ArgumentParser (see `TestServerLaunch.init(sdkArguments:)`).
if let launch = TestServerLaunch(sdkArguments: Array(CommandLine.arguments.dropFirst())) {
    do {
        try await launch.run()
    } catch {
        FileHandle.standardError.write(Data("timekeeper: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}

// So does the dev-server form, `server start-dev …` (see `DevServerLaunch`).
do {
    if let launch = try DevServerLaunch(arguments: Array(CommandLine.arguments.dropFirst())) {
        try await launch.run()
        exit(0)
    }
} catch {
    FileHandle.standardError.write(Data("timekeeper: \(error)\n".utf8))
    exit(1)
}

do {
    let command = try Timekeeper.parseAsRoot()
    guard let runnable = command as? any TimekeeperCommand else {
        var plain = command
        try plain.run()  // the root without a subcommand: prints help
        Timekeeper.exit()
    }
    try await runnable.execute()
} catch {
    Timekeeper.exit(withError: error)
}

/// A command with work to do: every subcommand. (`AsyncParsableCommand.run()` is not called directly
/// because, from top-level code, the synchronous `ParsableCommand.run()` wins overload resolution.)
protocol TimekeeperCommand: ParsableCommand {
    func execute() async throws
}

extension LaunchedBySDK: TimekeeperCommand {}
extension TestServer: TimekeeperCommand {}
extension ClockCommand: TimekeeperCommand {}
extension TimetableCommand: TimekeeperCommand {}
extension WorkflowCommand.List: TimekeeperCommand {}
extension WorkflowCommand.Show: TimekeeperCommand {}
extension WorkflowCommand.Describe: TimekeeperCommand {}
