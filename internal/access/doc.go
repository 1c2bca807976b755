// Package access is the vocabulary of the access policy: who is calling
// (Principal), what they may do with a dataset (Decision: row scope, field
// access, actions, the grants relied on), masking, grants as values, the
// dataset catalog's types, and the audited reads every dataset service
// makes (ReadOne, ReadMany, AuditRead).
//
// It holds no engine. Decisions are made by internal/policy, which compiles
// the policy files and the run-time store with Casbin; the two are split so
// that the domain packages (cases, property, violation, parking,
// evaluation), which only take decisions and apply them, depend on neither
// Casbin nor YAML (the "domain" rules in .golangci.yml keep it so).
package access
