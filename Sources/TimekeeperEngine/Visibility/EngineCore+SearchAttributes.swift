internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias AddSearchAttributesRequest = Temporal_Api_Operatorservice_V1_AddSearchAttributesRequest
package typealias RemoveSearchAttributesRequest = Temporal_Api_Operatorservice_V1_RemoveSearchAttributesRequest

/// Custom search attributes: those a client registered (`AddSearchAttributes`), and those runs used.
///
/// The test server registers an attribute on first use, with the type its payload names (the SDKs send it
/// in the `type` metadata), where Temporal's servers refuse a name nobody registered ("has no mapping
/// defined"). Temporal's Java test server accepts any name, and tests written against it set attributes
/// they never registered; registering them on first use keeps those tests working and still lets a list
/// query name them with their types. An attribute a client registered is held to its type: a value that
/// does not decode as that type is refused, whatever type the payload names, as Temporal's servers do.
extension EngineCore {
    /// Temporal's limits (`frontend.searchAttributesNumberOfKeysLimit`, `…SizeOfValueLimit`).
    static let searchAttributeKeyLimit = 100
    static let searchAttributeValueSizeLimit = 2048

    /// System attributes a client may set (Temporal's predefined, whitelisted ones); the other system
    /// attributes are the server's to set.
    static let settableSystemAttributes: Set<String> = [
        "TemporalChangeVersion", "BinaryChecksums", "BuildIds", "BatcherNamespace", "BatcherUser",
        "TemporalScheduledStartTime", "TemporalScheduledById", "TemporalSchedulePaused", "TemporalNamespaceDivision",
        "TemporalPauseInfo", "TemporalReportedProblems",
    ]

    /// The namespace's custom attributes with their types: the registered ones, and those runs used.
    package func customSearchAttributes(namespace: String) -> [String: SearchAttributeType] {
        (visibility.usedTypes[namespace] ?? [:]).merging(registeredSearchAttributes[namespace] ?? [:]) { _, registered in registered }
    }

    /// Search attributes as the server answers them: a payload without `type` metadata gets its attribute's
    /// type (Temporal's servers add it on the way out, so SDKs read even untyped attributes as typed).
    func typedSearchAttributes(_ fields: [String: Temporal_Api_Common_V1_Payload], namespace: String)
        -> [String: Temporal_Api_Common_V1_Payload]
    {
        let types = customSearchAttributes(namespace: namespace).merging(ListFilterSchema.systemAttributes) { custom, _ in custom }
        var typed = fields
        for (name, payload) in fields where payload.metadata["type"] == nil {
            if let type = types[name] { typed[name]?.metadata["type"] = Data(type.rawValue.utf8) }
        }
        return typed
    }

    /// Search attributes as an event records them. Temporal's servers stamp each value with its attribute's
    /// type (`type` metadata) when they write it, so a workflow reads even untyped attributes typed (a
    /// Datetime as a datetime); the dev form does the same. The test form records them as sent, as the
    /// Java test server does.
    func searchAttributesAsWritten(_ attributes: Temporal_Api_Common_V1_SearchAttributes, namespace: String)
        -> Temporal_Api_Common_V1_SearchAttributes
    {
        guard !configuration.registersSearchAttributesOnFirstUse else { return attributes }
        var typed = attributes
        typed.indexedFields = typedSearchAttributes(attributes.indexedFields, namespace: namespace)
        return typed
    }

    /// Checks the search attributes a start, an upsert or a schedule sets; the message names the attribute
    /// and the rule, in Temporal's words.
    func checkSearchAttributes(_ fields: [String: Temporal_Api_Common_V1_Payload], namespace: String) throws(EngineError) {
        guard !fields.isEmpty else { return }
        guard fields.count <= Self.searchAttributeKeyLimit else {
            throw .invalidArgument("number of search attributes \(fields.count) exceeds limit \(Self.searchAttributeKeyLimit)")
        }
        let registered = registeredSearchAttributes[namespace] ?? [:]
        let declared = Self.declaredTypes(fields)
        for name in fields.keys.sorted() {
            let payload = fields[name]!
            if ListFilterSchema.systemAttributes[name] != nil, !Self.settableSystemAttributes.contains(name) {
                throw .invalidArgument("\(name) attribute can't be set in SearchAttributes")
            }
            if payload.data.count > Self.searchAttributeValueSizeLimit {
                throw .invalidArgument(
                    "search attribute \(name) value size \(payload.data.count) exceeds size limit \(Self.searchAttributeValueSizeLimit)")
            }
            if registered[name] == nil, ListFilterSchema.systemAttributes[name] == nil,
                !configuration.registersSearchAttributesOnFirstUse
            {
                throw .invalidArgument("Namespace \(namespace) has no mapping defined for search attribute \(name)")
            }
            guard let type = registered[name] ?? ListFilterSchema.systemAttributes[name] ?? declared[name] else { continue }
            guard Self.isNull(payload) || Self.decode(payload.data, as: type) != nil else {
                throw .invalidArgument(
                    "invalid value for search attribute \(name) of type \(type.rawValue): \(String(decoding: payload.data, as: UTF8.self))")
            }
        }
    }

    /// `AddSearchAttributes`: registers each name with its type. A name already registered keeps its type
    /// (Temporal's server answers OK and changes nothing); a system name or a bad type refuses them all.
    package mutating func addSearchAttributes(_ request: AddSearchAttributesRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            guard !request.namespace.isEmpty else { throw .invalidArgument("Namespace is not set on request.") }
            guard !request.searchAttributes.isEmpty else { throw .invalidArgument("SearchAttributes are not set on request.") }
            var added: [String: SearchAttributeType] = [:]
            for name in request.searchAttributes.keys.sorted() {
                let indexed = request.searchAttributes[name]!
                if ListFilterSchema.systemAttributes[name] != nil || name.hasPrefix("Temporal") {
                    throw .invalidArgument("Search attribute \(name) is reserved by system.")
                }
                guard let type = SearchAttributeType(indexed) else {
                    if indexed == .unspecified {
                        throw .invalidArgument(
                            "Unable to create search attributes: cannot have more than 0 search attribute of type Unspecified.")
                    }
                    throw .invalidArgument("Unknown search attribute type: \(indexed.rawValue).")
                }
                guard !name.isEmpty, core.registeredSearchAttributes[request.namespace]?[name] == nil else { continue }
                added[name] = type
            }
            return { core in
                core.changeRegisteredSearchAttributes(in: request.namespace) { $0.merge(added) { old, _ in old } }
                core.markRecordsStale(namespace: request.namespace)  // a registered type changes how values read
            }
        }
    }

    /// `RemoveSearchAttributes`: forgets registered names (an unknown one is skipped, as Temporal's server
    /// skips it). Runs keep their values; a name they use is registered again on its next use.
    package mutating func removeSearchAttributes(_ request: RemoveSearchAttributesRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            guard !request.namespace.isEmpty else { throw .invalidArgument("Namespace is not set on request.") }
            guard !request.searchAttributes.isEmpty else { throw .invalidArgument("SearchAttributes are not set on request.") }
            for name in request.searchAttributes where ListFilterSchema.systemAttributes[name] != nil {
                throw .invalidArgument("Unable to remove non-custom search attributes: \(name).")
            }
            return { core in
                core.changeRegisteredSearchAttributes(in: request.namespace) { types in
                    for name in request.searchAttributes { types[name] = nil }
                }
                for name in request.searchAttributes { core.visibility.forgetUsed(name, namespace: request.namespace) }
                core.markRecordsStale(namespace: request.namespace)
            }
        }
    }
}

extension EngineCore {
    mutating func markRecordsStale(namespace: String) {
        for run in runs.values where run.ref.namespace == namespace { visibility.markStale(run.ref.runID) }
    }
}

extension SearchAttributeType {
    /// The type of an API type number (nil for unspecified or a number the API does not know).
    package init?(_ indexed: Temporal_Api_Enums_V1_IndexedValueType) {
        switch indexed {
        case .keyword: self = .keyword
        case .text: self = .text
        case .int: self = .int
        case .double: self = .double
        case .bool: self = .bool
        case .datetime: self = .datetime
        case .keywordList: self = .keywordList
        default: return nil
        }
    }
}
