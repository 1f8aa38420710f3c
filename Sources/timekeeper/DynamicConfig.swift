import ArgumentParser
import Logging
import TimekeeperEngine

/// `--dynamic-config-value KEY=VALUE`, as Temporal's CLI dev server takes it. The keys Timekeeper honours
/// are listed in `honoured`; any other key is accepted and logged once, since SDKs and test harnesses pass
/// whatever their reference server needs.
struct DynamicConfigValue: Equatable {
    var key: String
    var value: String

    /// Reads `KEY=VALUE`; `nil` when there is no `=` or no key.
    init?(_ argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        key = parts[0]
        // Temporal reads the value as YAML: a quoted string loses its quotes.
        value = parts[1].count >= 2 && parts[1].hasPrefix("\"") && parts[1].hasSuffix("\"")
            ? String(parts[1].dropFirst().dropLast()) : parts[1]
    }

    static let honoured = [
        "limit.historyCount.suggestContinueAsNew": "events at which a workflow task suggests continue-as-new (default 4096)",
        "limit.historySize.suggestContinueAsNew": "history bytes at which a workflow task suggests continue-as-new (default 4 MiB)",
        "frontend.WorkflowTimeSkippingEnabled": "per-workflow time skipping (V2); default true here (false on Temporal's servers, where SDKs' start_time_skipping_v2 must pass it)",
        "frontend.WorkflowTimeSkippingMaxSkipPerSession": "skips a time-skipping session may make when its config leaves the limit at 0 (default 200)",
    ]

    /// Applies the honoured values to an engine configuration; answers the lines to log (ignored keys,
    /// values that do not parse).
    static func apply(_ values: [DynamicConfigValue], to configuration: inout EngineCore.Configuration) -> [String] {
        var notes: [String] = []
        for entry in values {
            switch entry.key {
            case "limit.historyCount.suggestContinueAsNew", "limit.historySize.suggestContinueAsNew":
                guard let number = Int64(entry.value), number > 0 else {
                    notes.append("dynamic config \(entry.key)=\(entry.value) ignored: the value must be a positive integer")
                    continue
                }
                if entry.key.hasPrefix("limit.historyCount") {
                    configuration.suggestContinueAsNewAtEventCount = number
                } else {
                    configuration.suggestContinueAsNewAtHistoryBytes = number
                }
            case "frontend.WorkflowTimeSkippingEnabled":
                guard let enabled = Bool(entry.value.lowercased()) else {
                    notes.append("dynamic config \(entry.key)=\(entry.value) ignored: the value must be true or false")
                    continue
                }
                configuration.timeSkippingV2Enabled = enabled
            case "frontend.WorkflowTimeSkippingMaxSkipPerSession":
                guard let number = Int32(entry.value), number > 0 else {
                    notes.append("dynamic config \(entry.key)=\(entry.value) ignored: the value must be a positive integer")
                    continue
                }
                configuration.timeSkippingMaxSkipsPerSession = number
            default:
                notes.append("dynamic config \(entry.key) is not used by timekeeper; ignored")
            }
        }
        return notes
    }
}

extension DynamicConfigValue: ExpressibleByArgument {
    init?(argument: String) { self.init(argument) }
}
