import Testing

/// Every integration suite runs one test at a time: they start real processes
/// on a 2-core machine and must not compete with each other.
@Suite(.serialized) enum Integration {}
