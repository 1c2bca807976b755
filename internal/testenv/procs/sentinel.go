package procs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the Sentinels of a SentinelGroup monitor.
const SentinelMaster = "datahub"

// SentinelGroup is a Redis primary, one replica and three Sentinels
// (quorum two) of a test's own, on their own ports and folders.
type SentinelGroup struct {
	tb testing.TB
	// Servers are the data nodes: Servers[0] starts as the primary.
	Servers   []*Redis
	sentinels []*exec.Cmd
	ports     []int
}

// StartSentinelGroup starts the group and waits until the Sentinels agree
// on the primary and see its replica; everything is killed at cleanup. It
// skips the test if redis-server is not installed. Sentinels run as
// `redis-server --sentinel` (what Debian's redis-sentinel package runs).
func StartSentinelGroup(tb testing.TB) *SentinelGroup {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts Redis Sentinels; not in -short")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Skip("redis-server is not installed (scripts/services.sh installs it): skipping a Sentinel test")
	}
	g := &SentinelGroup{tb: tb}
	primary := StartRedis(tb)
	replica := &Redis{tb: tb, Port: freePort(tb), dir: tb.TempDir(),
		args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.Port)}}
	replica.Start()
	tb.Cleanup(replica.Stop)
	g.Servers = []*Redis{primary, replica}
	for range 3 {
		dir := tb.TempDir()
		port := freePort(tb)
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 10000
sentinel parallel-syncs %[3]s 1
`, port, dir, SentinelMaster, primary.Port)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command("redis-server", conf, "--sentinel", "--daemonize", "no", "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start sentinel: %v", err)
		}
		tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		g.sentinels = append(g.sentinels, cmd)
		g.ports = append(g.ports, port)
	}
	// Ready when every Sentinel names the primary and knows the replica
	// (a failover needs a replica to promote).
	g.waitFor("the Sentinels to see the primary and its replica", func(c *redis.SentinelClient) bool {
		addr, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
		if err != nil || len(addr) != 2 || addr[1] != strconv.Itoa(primary.Port) {
			return false
		}
		reps, err := c.Replicas(context.Background(), SentinelMaster).Result()
		return err == nil && len(reps) == 1
	})
	return g
}

// URL is the hub's REDIS_URL for the group.
func (g *SentinelGroup) URL() string {
	addrs := make([]string, len(g.ports))
	for i, p := range g.ports {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "/" + SentinelMaster
}

// Primary returns the data node the Sentinels name as primary now.
func (g *SentinelGroup) Primary() *Redis {
	c := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", g.ports[0])})
	defer c.Close()
	addr, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
	if err != nil || len(addr) != 2 {
		g.tb.Fatalf("ask a Sentinel for the primary: %v", err)
	}
	for _, s := range g.Servers {
		if strconv.Itoa(s.Port) == addr[1] {
			return s
		}
	}
	g.tb.Fatalf("the Sentinels name %v, none of the group's servers", addr)
	return nil
}

// WaitPrimary waits until every Sentinel names a primary other than old.
func (g *SentinelGroup) WaitPrimary(old *Redis) *Redis {
	g.tb.Helper()
	g.waitFor("the Sentinels to fail over", func(c *redis.SentinelClient) bool {
		addr, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
		return err == nil && len(addr) == 2 && addr[1] != strconv.Itoa(old.Port)
	})
	return g.Primary()
}

func (g *SentinelGroup) waitFor(what string, cond func(*redis.SentinelClient) bool) {
	g.tb.Helper()
	deadline := time.Now().Add(2 * startWait)
	for _, p := range g.ports {
		c := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p), MaxRetries: -1})
		for !cond(c) {
			if time.Now().After(deadline) {
				_ = c.Close()
				g.tb.Fatalf("%s: not within %s", what, 2*startWait)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = c.Close()
	}
}
