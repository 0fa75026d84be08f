package node_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// holdProxy stands where a layer-7 load balancer can stand in front of
// Vault: it forwards each connection to upstream and, while hold is set,
// keeps every answer from upstream that long before passing it on. A
// client that goes away meanwhile does not cancel its request upstream:
// the proxy still reads the answer, and drops it.
type holdProxy struct {
	ln       net.Listener
	upstream string
	hold     atomic.Int64 // nanoseconds
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func startHoldProxy(listen, upstream string) (*holdProxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &holdProxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go p.handle(c)
		}
	}()
	return p, nil
}

// setHold sets how long answers are held (0: passed on at once).
func (p *holdProxy) setHold(d time.Duration) { p.hold.Store(int64(d)) }

func (p *holdProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

func (p *holdProxy) handle(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	p.track(client, up)
	go func() {
		_, _ = io.Copy(up, client)
		// The client is gone; its request is upstream already: read the
		// answer for a while, as a load balancer would, then give up.
		_ = up.SetReadDeadline(time.Now().Add(15 * time.Second))
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if d := time.Duration(p.hold.Load()); d > 0 {
				time.Sleep(d)
			}
			_, _ = client.Write(buf[:n]) // a client gone away: dropped
		}
		if err != nil {
			return
		}
	}
}

// Close stops listening, closes every connection and waits for them.
func (p *holdProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
