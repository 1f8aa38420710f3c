internal import GRPCCore
internal import Logging
internal import NIOCore
internal import NIOHTTP2

/// Tells a connection to drain: GOAWAY, answer what is in flight (waiting calls are cancelled, which makes
/// long polls answer empty at once), then close. Fired by `GRPCListener.drain()`.
struct DrainEvent: Sendable {}

extension GRPCConnectionHandler {
    /// What the upkeep timer tracks between its ticks.
    struct Upkeep {
        /// Ticks once a second for the connection's life.
        var timer: RepeatedTask?
        var age: TimeAmount = .zero
        /// Any frame since the last tick (PING ACKs included): the peer is alive.
        var heardFromPeer = false
        var everHeard = false
        var silentFor: TimeAmount = .zero
        var pingSent = false
        var draining = false
        var drainingFor: TimeAmount = .zero
        var closing = false
    }

    static let tick: TimeAmount = .seconds(1)
    /// Waiting calls answer by themselves at their deadline (long polls just before it); this is the
    /// backstop for any that did not.
    static let deadlineGrace: TimeAmount = .seconds(1)
    static let keepalivePing: UInt64 = 0x7469_6d65_6b65_6570  // "timekeep"

    func startUpkeep(context: ChannelHandlerContext) {
        guard upkeep.timer == nil else { return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        upkeep.timer = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.tick, delay: Self.tick) { _ in
            handler.value.tick()
        }
    }

    func stopUpkeep() {
        upkeep.timer?.cancel()
        upkeep.timer = nil
    }

    /// Once a second: the handshake and keepalive checks, silent requests, overdue calls, the drain.
    private func tick() {
        guard let context else { return }
        upkeep.age = upkeep.age + Self.tick
        if upkeep.heardFromPeer {
            upkeep.heardFromPeer = false
            upkeep.everHeard = true
            upkeep.silentFor = .zero
            upkeep.pingSent = false
        } else {
            upkeep.silentFor = upkeep.silentFor + Self.tick
        }
        if !upkeep.everHeard && upkeep.age >= limits.handshake {
            close(context, because: "no HTTP/2 preface within \(limits.handshake.nanoseconds / 1_000_000_000) s")
            return
        }
        if upkeep.everHeard && upkeep.silentFor >= limits.keepalive {
            if upkeep.pingSent {
                close(context, because: "the client answered no keepalive PING")
                return
            }
            upkeep.pingSent = true
            upkeep.silentFor = .zero
            write(.rootStream, .ping(HTTP2PingData(withInteger: Self.keepalivePing), ack: false), context: context)
        }
        endOverdueCalls(context: context)
        if upkeep.draining {
            upkeep.drainingFor = upkeep.drainingFor + Self.tick
            if upkeep.drainingFor >= limits.drain {
                close(context, because: "the drain's \(limits.drain.nanoseconds / 1_000_000_000) s are up")
                return
            }
        }
        flushIfNeeded(context: context)
        closeIfDrained(context: context)
    }

    /// Unfinished requests whose client went quiet, and calls whose client's deadline has passed.
    private func endOverdueCalls(context: ChannelHandlerContext) {
        guard !calls.isEmpty else { return }
        let now = context.eventLoop.now
        var overdue: [(HTTP2StreamID, GRPCStatus, clientEnded: Bool)] = []
        for (stream, call) in calls {
            if !call.complete {
                call.idle = call.idle + Self.tick
                if call.idle >= limits.requestIdle {
                    let seconds = limits.requestIdle.nanoseconds / 1_000_000_000
                    overdue.append((stream, GRPCStatus(
                        .deadlineExceeded,
                        "The request to \(call.path.dropFirst()) was not finished: nothing came for \(seconds) s (the server's request read timeout)"),
                        false))
                    continue
                }
            }
            if let deadline = call.deadline, deadline + Self.deadlineGrace <= now {
                overdue.append((stream, deadlineExceeded(call), call.complete))
            }
        }
        for (stream, status, clientEnded) in overdue {
            removeCall(stream)?.task?.cancel()
            answerEarly(stream, with: status, clientEnded: clientEnded, context: context)
        }
    }

    /// GOAWAY naming the newest stream we took, then answer what is in flight and close.
    func beginDrain(context: ChannelHandlerContext) {
        guard !upkeep.draining else { return }
        upkeep.draining = true
        write(.rootStream, .goAway(lastStreamID: newestStream, errorCode: .noError, opaqueData: nil), context: context)
        // Waiting calls answer on cancellation: long polls with an empty response, as at their deadline.
        for call in calls.values { call.task?.cancel() }
        flushIfNeeded(context: context)
        closeIfDrained(context: context)
    }

    func closeIfDrained(context: ChannelHandlerContext) {
        guard upkeep.draining, calls.isEmpty else { return }
        close(context, because: nil)
    }

    private func close(_ context: ChannelHandlerContext, because reason: String?) {
        guard !upkeep.closing else { return }
        upkeep.closing = true
        if let reason { logger.debug("closing a client connection: \(reason)") }
        stopUpkeep()
        flushIfNeeded(context: context)
        context.close(promise: nil)
    }
}
