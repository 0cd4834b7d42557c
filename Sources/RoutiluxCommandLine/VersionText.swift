import RoutiluxCore
import RoutiluxWire

/// What `--version` prints: the release and the wire protocol it speaks.
public func versionText() -> String {
    "\(RoutiluxVersion.release) (wire protocol \(protocolVersion))"
}
