// Package redisclient turns REDIS_URL into a go-redis client: one server,
// a Sentinel-managed primary with automatic failover, or a Redis Cluster.
package redisclient

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// New returns the client rawURL names:
//
//	redis://[user:password@]host:port/db             one server (also rediss://, unix://)
//	redis-sentinel://[:password@]host:port[,host:port…]/master[?db=N&sentinel_password=…]
//	                                                 the primary the Sentinels name, followed across failovers
//	redis-cluster://[:password@]host:port[,host:port…] a Redis Cluster (seed nodes)
//
// The password is the data nodes' (requirepass); sentinel_password, when
// the Sentinels require one of their own. hooks are installed on the client
// (Errors counts its failed commands).
func New(rawURL string, hooks ...redis.Hook) (redis.UniversalClient, error) {
	c, err := newClient(rawURL)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		c.AddHook(h)
	}
	return c, nil
}

func newClient(rawURL string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("redis url: want scheme://…, got %q", redact(rawURL))
	}
	switch scheme {
	case "redis-sentinel", "redis-cluster":
	default:
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		return redis.NewClient(opt), nil
	}
	var user, password string
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		info := rest[:at]
		rest = rest[at+1:]
		u, p, _ := strings.Cut(info, ":")
		var err error
		if user, err = url.PathUnescape(u); err != nil {
			return nil, fmt.Errorf("redis url: user: %w", err)
		}
		if password, err = url.PathUnescape(p); err != nil {
			return nil, fmt.Errorf("redis url: password: %w", err)
		}
	}
	hosts, path, _ := strings.Cut(rest, "/")
	path, rawQuery, _ := strings.Cut(path, "?")
	if i := strings.Index(hosts, "?"); i >= 0 {
		hosts, rawQuery = hosts[:i], hosts[i+1:]
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, port, ok := strings.Cut(h, ":"); !ok || port == "" {
			h += ":" + map[string]string{"redis-sentinel": "26379", "redis-cluster": "6379"}[scheme]
		}
		addrs = append(addrs, h)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("redis url %q: no host:port", redact(rawURL))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("redis url: query: %w", err)
	}
	if scheme == "redis-cluster" {
		if path != "" || q.Get("db") != "" {
			return nil, fmt.Errorf("redis url: a cluster has database 0 only")
		}
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Username: user, Password: password}), nil
	}
	master := strings.Trim(path, "/")
	if master == "" {
		return nil, fmt.Errorf("redis url %q: name the Sentinels' master: redis-sentinel://host:port/mymaster", redact(rawURL))
	}
	db := 0
	if v := q.Get("db"); v != "" {
		if db, err = strconv.Atoi(v); err != nil || db < 0 {
			return nil, fmt.Errorf("redis url: db %q: want a number", v)
		}
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: master, SentinelAddrs: addrs, SentinelPassword: q.Get("sentinel_password"),
		Username: user, Password: password, DB: db,
	}), nil
}

// redact drops the credentials from a URL for error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(unparsable)"
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "…@" + rest[at+1:]
	}
	return scheme + "://" + rest
}
