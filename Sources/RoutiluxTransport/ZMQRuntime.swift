import CZMQ
import Foundation

/// Process-wide CZMQ set-up, done once before the first socket: CZMQ's own
/// signal handling is switched off (the process's lifecycle code owns SIGINT/SIGTERM).
enum ZMQRuntime {
    static let initialized: Bool = {
        // A write to a pipe whose reader has gone (an Exec child that exits without
        // reading its stdin) must be an error, not the death of the process.
        signal(SIGPIPE, SIG_IGN)
        setenv("ZSYS_SIGHANDLER", "false", 1)
        zsys_handler_set(nil)
        // Room above every transport's own cap (TransportLimits.maxSockets): a
        // full context would make socket creation fail.
        zsys_set_max_sockets(8192)
        _ = zsys_init()
        zsys_handler_set(nil)
        return true
    }()

    static var lastError: String {
        String(cString: zmq_strerror(zmq_errno()))
    }
}
