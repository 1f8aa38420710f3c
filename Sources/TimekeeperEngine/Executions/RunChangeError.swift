internal import TemporalAPI

/// A change that does not fit the run it is applied to: an event in the wrong place of a history, or a
/// note about an activity or timer the run does not have. The live path never makes one (it decides
/// changes from the same state); a history read back from a store that does is corrupt.
package struct RunChangeError: Error, Sendable, Equatable, CustomStringConvertible {
    package struct Code: Hashable, Sendable {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The change needs the entity in another state (a started event for a task that is not scheduled).
        package static let invalidTransition = Code("invalid transition")
        /// The change names an entity the run does not have.
        package static let unknownEntity = Code("unknown entity")
        /// The first change of a run must create it.
        package static let notCreated = Code("not created")
    }

    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
