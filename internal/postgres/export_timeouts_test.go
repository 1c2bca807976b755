package postgres

// UnboundTimeouts exports unboundTimeouts to the package's external tests.
var UnboundTimeouts = unboundTimeouts
