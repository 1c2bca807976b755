// Package procs runs PostgreSQL and Redis servers of a test's own, on their
// own ports and data folders, so that fault tests can stop, kill and restart
// them without disturbing the shared services other packages use.
//
// The servers are Debian's (scripts/services.sh installs them): PostgreSQL
// from /usr/lib/postgresql/<major>/bin with PostGIS, and redis-server on
// PATH. Without them the tests that need them are skipped, saying why.
package procs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// startWait bounds how long a server may take to answer after it starts.
const startWait = 30 * time.Second

// freePort returns a TCP port nobody listens on at the moment.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Redis is a redis-server without persistence that a test can stop and
// start again on the same port (coming back empty, as after a crash).
type Redis struct {
	tb   testing.TB
	Port int
	dir  string
	cmd  *exec.Cmd
	// args are extra arguments, e.g. --replicaof.
	args []string
}

// StartRedis starts a redis-server on a free port, stopped at cleanup. It
// skips the test if redis-server is not installed, and under -short.
func StartRedis(tb testing.TB) *Redis {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts redis-server; not in -short")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Skip("redis-server is not installed (scripts/services.sh installs it): skipping a test that stops Redis")
	}
	s := &Redis{tb: tb, Port: freePort(tb), dir: tb.TempDir()}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// Addr is host:port of the server.
func (s *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// URL is the server's redis:// URL.
func (s *Redis) URL() string { return "redis://" + s.Addr() + "/0" }

// Start starts the server (again) and waits until it answers.
func (s *Redis) Start() {
	s.tb.Helper()
	if s.cmd != nil {
		return
	}
	s.cmd = exec.Command("redis-server", append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no", "--loglevel", "warning"}, s.args...)...)
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(startWait)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.tb.Fatal("redis-server did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: it keeps nothing) and waits for it.
func (s *Redis) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Postgres is a PostgreSQL cluster of the test's own.
type Postgres struct {
	tb   testing.TB
	Port int
	bin  string
	dir  string // data directory; also holds the Unix socket
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan struct{}
}

// pgBin finds the newest Debian PostgreSQL server that has PostGIS.
func pgBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		major := filepath.Base(filepath.Dir(d))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat("/usr/share/postgresql/" + major + "/extension/postgis.control"); err != nil {
			continue
		}
		return d, nil
	}
	return "", errors.New("no PostgreSQL server with PostGIS under /usr/lib/postgresql")
}

// StartPostgres initialises a cluster in a fresh folder and starts it on a
// free port (trust authentication, user postgres), stopped and removed at
// cleanup. PostgreSQL refuses to run as root: as root, the cluster belongs
// to and runs as the system user postgres. It skips the test if the server
// binaries or PostGIS are not installed, and under -short.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a PostgreSQL server; not in -short")
	}
	bin, err := pgBin()
	if err != nil {
		tb.Skipf("%v (scripts/services.sh installs them): skipping a test that restarts PostgreSQL", err)
	}
	base, err := os.MkdirTemp("", "datahub-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(base) })
	p := &Postgres{tb: tb, Port: freePort(tb), bin: bin, dir: filepath.Join(base, "data")}
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Skip("running as root without a postgres system user: cannot run PostgreSQL")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(base, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	initdb := p.command(filepath.Join(bin, "initdb"), "-D", p.dir, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Start()
	tb.Cleanup(p.Stop)
	return p
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// URL is the URL of database db on the server.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// CreateDatabase creates database name and returns its URL.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	c, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return p.URL(name), nil
}

// Start starts the server (again) and waits until it accepts connections.
func (p *Postgres) Start() {
	p.tb.Helper()
	if p.cmd != nil {
		return
	}
	p.cmd = p.command(filepath.Join(p.bin, "postgres"), "-D", p.dir, "-p", strconv.Itoa(p.Port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200",
		"-c", "logging_collector=off", "-c", "log_min_messages=fatal")
	if err := p.cmd.Start(); err != nil {
		p.tb.Fatalf("start postgres: %v", err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
	deadline := time.Now().Add(startWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, p.URL("postgres"))
		cancel()
		if err == nil {
			_ = c.Close(context.Background())
			return
		}
		select {
		case <-p.done:
			p.cmd = nil
			p.tb.Fatalf("postgres exited at start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			p.tb.Fatalf("postgres did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down as an operator's fast restart does (SIGINT:
// open transactions are rolled back, sessions are cut) and waits for it.
func (p *Postgres) Stop() { p.signal(syscall.SIGINT) }

// Crash stops the server as a crash would (SIGQUIT, immediate shutdown: no
// checkpoint; the next start recovers from the WAL).
func (p *Postgres) Crash() { p.signal(syscall.SIGQUIT) }

func (p *Postgres) signal(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(startWait):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// StartReplica makes a streaming replica of primary with pg_basebackup
// (which copies the primary's data and writes the standby settings) in a
// fresh folder and starts it on a free port, stopped and removed at
// cleanup. It skips the test if pg_basebackup is not installed.
func StartReplica(tb testing.TB, primary *Postgres) *Postgres {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(primary.bin, "pg_basebackup")); err != nil {
		tb.Skipf("pg_basebackup is not installed beside %s: skipping a replica test", primary.bin)
	}
	base, err := os.MkdirTemp("", "datahub-pg-replica-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(base) })
	p := &Postgres{tb: tb, Port: freePort(tb), bin: primary.bin, dir: filepath.Join(base, "data"), cred: primary.cred}
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if p.cred != nil {
		if err := os.Chmod(base, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	backup := p.command(filepath.Join(p.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port),
		"-U", "postgres", "-D", p.dir, "--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast", "--no-sync")
	if out, err := backup.CombinedOutput(); err != nil {
		tb.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	p.Start()
	tb.Cleanup(p.Stop)
	return p
}
