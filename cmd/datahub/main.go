// Command datahub is the Fengcheng Data Hub: one binary that serves the
// GraphQL API and runs the operator's tasks.
//
//	datahub serve                 run the hub
//	datahub migrate               apply database migrations (idempotent)
//	datahub seed [--cases N]      load realistic demo data
//	datahub token --sub S (--dept D | --org O) --roles r1,r2 [--jurisdiction C] [--ttl 1h]
//	datahub schema print          print the federation SDL (--client: a client's schema file)
//	datahub apikey create|list|revoke
//	datahub evalorg register|list  third-party evaluation organisations
//	datahub export --snapshot ID      download an assessment snapshot
//	datahub import --dataset D FILE   load a department system's bulk file
//	datahub policy matrix         who sees what, as Markdown
//	datahub audit verify          check the audit hash chain
//	datahub bench                 load benchmark of the named workloads
//	datahub operations register F  allow-list an operation document
//
// Configuration comes from environment variables (see README); flags
// override them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "datahub:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// flagSet returns a command's flag set, writing its usage and errors to the
// command's standard error.
func (m *Main) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}

// Main runs one subcommand. Tests drive it with their own streams and
// environment.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

const usage = `usage: datahub <command> [flags]

commands:
  serve          run the hub (GraphQL at /query, GraphiQL at /)
  migrate        apply pending database migrations
  seed           load realistic demo data (--cases, --seed, --if-empty, --reset)
  token          mint a development JWT
  schema print   print the federation SDL served at { _service { sdl } }
                 (--client: the schema file relay-compiler and codegen read)
  apikey         create, list or revoke API keys
  evalorg        register or list third-party evaluation organisations and their contracts
  import         load a bulk file (--dataset cases FILE.ndjson|.csv[.gz], --mode, --dry-run)
  export         download an assessment snapshot (--snapshot ID --format ndjson|csv, resumable)
  policy matrix  print who sees what, from the policy files
  audit verify   verify the audit log's hash chain
  operations     the persisted-operation allow-list: register FILE... | list | remove HASH...
  bench          load benchmark: S1–S7 through a hub it starts (--scenarios, --duration, --connections)
`

// Run dispatches args to a subcommand.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "migrate":
		return m.migrate(ctx, rest)
	case "seed":
		return m.seed(ctx, rest)
	case "token":
		return m.token(rest)
	case "schema":
		if len(rest) == 0 || rest[0] != "print" {
			fmt.Fprintln(m.Stderr, "usage: datahub schema print [--client]")
			return errUsage
		}
		fs := m.flagSet("schema print")
		client := fs.Bool("client", false, "print the schema a client compiler reads (relay-compiler, graphql-codegen): type extensions merged, Federation directives declared")
		if err := fs.Parse(rest[1:]); err != nil || fs.NArg() > 0 {
			return errUsage
		}
		return m.schemaPrint(*client)
	case "apikey":
		return m.apikey(ctx, rest)
	case "evalorg":
		return m.evalorg(ctx, rest)
	case "export":
		return m.export(ctx, rest)
	case "import":
		return m.importFile(ctx, rest)
	case "policy":
		if len(rest) == 0 || rest[0] != "matrix" {
			fmt.Fprintln(m.Stderr, "usage: datahub policy matrix")
			return errUsage
		}
		return m.policyMatrix(rest[1:])
	case "bench":
		return m.bench(ctx, rest)
	case "operations":
		return m.operations(ctx, rest)
	case "audit":
		if len(rest) == 0 || rest[0] != "verify" {
			fmt.Fprintln(m.Stderr, "usage: datahub audit verify [--checkpoints FILE] [--head SEQ:HEXHASH] [--no-redis]")
			return errUsage
		}
		return m.auditVerify(ctx, rest[1:])
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	default:
		fmt.Fprintf(m.Stderr, "unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}

func (m *Main) logger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: l}))
}
