/// This build's release, printed by every executable's `--version`.
public enum RoutiluxVersion {
    public static let release = "0.5.0"
}
