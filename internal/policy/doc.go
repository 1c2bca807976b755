// Package policy is the access policy engine: it loads and validates the
// policy files (catalog.yaml, model.conf, policy.csv) and the run-time
// policy store, compiles them into a Casbin enforcer, and answers Decide
// with the decisions internal/access describes. It also prints the policy
// matrix, checks GraphQL operations against roles, and manages grants;
// casbinpg stores the run-time policy in PostgreSQL and casbinredis tells
// the other instances when it changes.
//
// It is the only package that knows Casbin and YAML. It is split from
// internal/access so that the domain packages, which only use the
// vocabulary (principals, decisions, row scopes, masking, reads), do not
// depend on the engine; the application wires an Engine in where they take
// a decide function.
package policy
