package shipevents

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// pipeNet is an in-memory network for HTTP tests in a synctest bubble.
// Servers listen on it under names of their own, and its transport dials
// them through net.Pipe, so that every read and write blocks durably:
// the bubble's clock moves only when everything waits, and timeouts are
// exact, however busy the machine is. A loopback socket would keep the
// bubble from ever becoming idle.
type pipeNet struct {
	mu        sync.Mutex
	listeners map[string]*pipeListener // by host:port
}

func newPipeNet() *pipeNet { return &pipeNet{listeners: map[string]*pipeListener{}} }

// server starts an httptest server for h on the network, closed when the
// test ends; its URL names it.
func (n *pipeNet) server(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	n.mu.Lock()
	addr := pipeAddr("server-" + strconv.Itoa(len(n.listeners)+1) + ".test:80")
	l := &pipeListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
	n.listeners[string(addr)] = l
	n.mu.Unlock()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// transport returns an HTTP transport that dials the network's servers.
func (n *pipeNet) transport(t *testing.T) *http.Transport {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			n.mu.Lock()
			l := n.listeners[addr]
			n.mu.Unlock()
			if l == nil {
				return nil, &net.OpError{Op: "dial", Net: "pipe", Err: errors.New("connection refused")}
			}
			return l.dial(ctx)
		},
		MaxIdleConnsPerHost: 64,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// sender returns an HTTP sender on the network, with cfg's other settings.
func (n *pipeNet) sender(t *testing.T, cfg HTTPSenderConfig) *HTTPSender {
	cfg.Transport = n.transport(t)
	return NewHTTPSender(cfg)
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeListener hands the server end of each dialled pipe to Accept.
type pipeListener struct {
	addr  pipeAddr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: l.addr, Err: errors.New("connection refused")}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return l.addr }
