package app

import (
	"fmt"
	"net"
)

// listen opens the hub's listener. With loopbackOnly (development mode,
// whose tokens anyone can mint) it also refuses an address that resolved to
// anything but loopback, whatever the configuration said: the check is on
// the socket actually bound, so a host name mapped elsewhere cannot open a
// development hub to the network.
func listen(addr string, loopbackOnly bool) (net.Listener, error) {
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
	return ln, nil
}
