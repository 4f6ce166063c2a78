package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"unievent.dev/ws"
	"unievent.dev/ws/client"
)

// received is a copy of a message a listener saw.
type received struct {
	op      ws.Opcode
	payload []byte
}

// closed is what the close listener reported, with the peer's close frame
// when one arrived.
type closed struct {
	code              ws.CloseCode
	reason            string
	peerCode          ws.CloseCode
	peerReason        string
	peerCloseReceived bool
}

// session is one client connection on a loop of its own, run in a
// goroutine; its listeners hand what arrives to channels so that a case
// reads as straight-line code.
type session struct {
	c      *ws.Conn
	loop   *ws.Loop
	msgs   chan received
	closed chan closed
	done   chan struct{} // closed when loop.Run returned
	pings  atomic.Int32
}

// open dials url and starts the session's loop.
func open(ctx context.Context, url string, cfg *client.Config) (*session, error) {
	loop := ws.NewLoop()
	c, err := client.Dial(ctx, url, cfg, loop)
	if err != nil {
		return nil, err
	}
	s := &session{c: c, loop: loop, msgs: make(chan received, 64), closed: make(chan closed, 1), done: make(chan struct{})}
	var peer closed
	c.OnMessage(func(_ *ws.Conn, m *ws.Message) {
		select {
		case s.msgs <- received{m.Opcode, bytes.Clone(m.Payload)}:
		default: // more than any case expects; the case fails on what it has
		}
	})
	c.OnPing(func(*ws.Conn, *ws.Message) { s.pings.Add(1) })
	c.OnPeerClose(func(_ *ws.Conn, m *ws.Message) {
		peer.peerCloseReceived = true
		peer.peerCode, peer.peerReason = m.CloseCode, m.CloseReason
	})
	c.OnClose(func(_ *ws.Conn, code ws.CloseCode, reason string) {
		peer.code, peer.reason = code, reason
		s.closed <- peer
	})
	go func() {
		loop.Run() // until the connection is over, or stop
		close(s.done)
	}()
	return s, nil
}

// stop ends a session that a case leaves early (a failure or a timeout):
// the connection is dropped and the loop stopped.
func (s *session) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	if nc := s.c.NetConn(); nc != nil {
		// A plain socket that the loop's poller holds gives a net.Conn
		// on a duplicate of its descriptor, whose Close alone leaves the
		// connection open: shut the socket itself down first.
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.CloseRead()
			tc.CloseWrite()
		}
		nc.Close()
	}
	select {
	case <-s.done:
	case <-time.After(time.Second):
		s.loop.Stop()
	}
}

// next waits for the next message.
func (s *session) next(ctx context.Context) (received, error) {
	select {
	case m := <-s.msgs:
		return m, nil
	case cl := <-s.closed:
		s.closed <- cl
		return received{}, fmt.Errorf("connection closed with %d %q before a message arrived", cl.code, cl.reason)
	case <-ctx.Done():
		return received{}, errors.New("no message before the case timeout")
	}
}

// waitClosed waits for the close listener.
func (s *session) waitClosed(ctx context.Context) (closed, error) {
	select {
	case cl := <-s.closed:
		select {
		case <-s.done:
		case <-ctx.Done():
			return cl, errors.New("the loop did not end after the close")
		}
		return cl, nil
	case <-ctx.Done():
		return closed{}, errors.New("the connection did not close before the case timeout")
	}
}

// closeNormally runs the closing handshake from our side with 1000 and
// checks that the peer answered it (RFC 6455 section 5.5.1: the peer echoes
// the code).
func (s *session) closeNormally(ctx context.Context) error {
	if err := s.c.Close(1000, "bye"); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	cl, err := s.waitClosed(ctx)
	if err != nil {
		return err
	}
	if cl.code != 1000 {
		return fmt.Errorf("close reported %d %q, want 1000", cl.code, cl.reason)
	}
	if !cl.peerCloseReceived {
		return errors.New("the server did not answer our close frame")
	}
	if cl.peerCode != 1000 {
		return fmt.Errorf("the server answered our close with %d %q, want 1000 echoed", cl.peerCode, cl.peerReason)
	}
	return nil
}
