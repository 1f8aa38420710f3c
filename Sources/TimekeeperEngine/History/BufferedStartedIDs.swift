internal import TemporalAPI

/// The ids buffered started events get as they are written, and the results that must name them. An
/// activity's result or a child's close buffered together with its started event was made naming no
/// started event (that one had no id yet); it names it once both are written, as Temporal's server wires
/// them when it writes its buffer.
struct BufferedStartedIDs {
    /// Activity scheduled event id → the id its started event was written with.
    private var activities: [Int64: Int64] = [:]
    /// Child initiated event id → the id its started event was written with.
    private var children: [Int64: Int64] = [:]

    /// Notes `event`'s id if it is a started event; fills in the started event a result names.
    mutating func wire(_ event: inout HistoryEvent) {
        switch event.attributes {
        case .activityTaskStartedEventAttributes(let attributes)?:
            activities[attributes.scheduledEventID] = event.eventID
        case .childWorkflowExecutionStartedEventAttributes(let attributes)?:
            children[attributes.initiatedEventID] = event.eventID
        case .activityTaskCompletedEventAttributes(var attributes)?:
            if Self.name(&attributes, \.scheduledEventID, in: activities) { event.activityTaskCompletedEventAttributes = attributes }
        case .activityTaskFailedEventAttributes(var attributes)?:
            if Self.name(&attributes, \.scheduledEventID, in: activities) { event.activityTaskFailedEventAttributes = attributes }
        case .activityTaskTimedOutEventAttributes(var attributes)?:
            if Self.name(&attributes, \.scheduledEventID, in: activities) { event.activityTaskTimedOutEventAttributes = attributes }
        case .activityTaskCanceledEventAttributes(var attributes)?:
            if Self.name(&attributes, \.scheduledEventID, in: activities) { event.activityTaskCanceledEventAttributes = attributes }
        case .childWorkflowExecutionCompletedEventAttributes(var attributes)?:
            if Self.name(&attributes, \.initiatedEventID, in: children) { event.childWorkflowExecutionCompletedEventAttributes = attributes }
        case .childWorkflowExecutionFailedEventAttributes(var attributes)?:
            if Self.name(&attributes, \.initiatedEventID, in: children) { event.childWorkflowExecutionFailedEventAttributes = attributes }
        case .childWorkflowExecutionCanceledEventAttributes(var attributes)?:
            if Self.name(&attributes, \.initiatedEventID, in: children) { event.childWorkflowExecutionCanceledEventAttributes = attributes }
        case .childWorkflowExecutionTimedOutEventAttributes(var attributes)?:
            if Self.name(&attributes, \.initiatedEventID, in: children) { event.childWorkflowExecutionTimedOutEventAttributes = attributes }
        case .childWorkflowExecutionTerminatedEventAttributes(var attributes)?:
            if Self.name(&attributes, \.initiatedEventID, in: children) { event.childWorkflowExecutionTerminatedEventAttributes = attributes }
        default:
            break
        }
    }

    /// Sets a result's unnamed started event id from `ids` (keyed by what `key` reads); whether it did.
    private static func name<Attributes: StartedEventNaming>(
        _ attributes: inout Attributes, _ key: KeyPath<Attributes, Int64>, in ids: [Int64: Int64]
    ) -> Bool {
        guard attributes.startedEventID == 0, let id = ids[attributes[keyPath: key]] else { return false }
        attributes.startedEventID = id
        return true
    }
}

/// A result's attributes, which name the started event of what they are the result of.
protocol StartedEventNaming {
    var startedEventID: Int64 { get set }
}

extension Temporal_Api_History_V1_ActivityTaskCompletedEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ActivityTaskFailedEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ActivityTaskTimedOutEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ActivityTaskCanceledEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionCompletedEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionFailedEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionCanceledEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionTimedOutEventAttributes: StartedEventNaming {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionTerminatedEventAttributes: StartedEventNaming {}
