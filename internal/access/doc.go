// Package access is the vocabulary of the access policy: who is calling
// (Principal), what they may do with a dataset (Decision: row scope, field
// access, actions, the grants relied on), masking, grants as values, the
// dataset catalog's types, and the audited reads every dataset service
// makes (ReadOne, ReadMany, AuditRead).
//
// It holds no engine. Decisions are made by internal/policy, which parses
// the policy files (YAML, CSV) and compiles them with the run-time store
// into a Casbin enforcer; the two are split so that the domain packages
// (cases, property, violation, parking, evaluation), which only take
// decisions and apply them, depend on neither Casbin nor the policy files'
// parser (depguard in .golangci.yml keeps it so).
package access
