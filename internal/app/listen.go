package app

import (
	"fmt"
	"net"
	"sync"
)

// listen opens the hub's listener, accepting at most maxConns connections
// at once: beyond that, new connections wait in the kernel's backlog until
// one closes, so a flood of idle or slow clients cannot take every file
// descriptor and goroutine of the instance. With loopbackOnly (development
// mode, whose tokens anyone can mint) it also refuses an address that
// resolved to anything but loopback, whatever the configuration said: the
// check is on the socket actually bound, so a host name mapped elsewhere
// cannot open a development hub to the network.
func listen(addr string, maxConns int, loopbackOnly bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if loopbackOnly {
		tcp, ok := ln.Addr().(*net.TCPAddr)
		if !ok || !tcp.IP.IsLoopback() {
			_ = ln.Close()
			return nil, fmt.Errorf("listen on %s: bound %s, which is not loopback; development mode accepts tokens signed with a published key and serves this machine only (set DATAHUB_MODE=production with JWT_PUBLIC_KEYS)", addr, ln.Addr())
		}
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, maxConns)}, nil
}

// limitListener is golang.org/x/net/netutil.LimitListener in a few lines.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
