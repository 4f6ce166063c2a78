package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// gorillaSuite runs gorilla/websocket. With compression it offers
// "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover" and requires the server to accept both.
func gorillaSuite(s *suite, u urls) {
	modes := []struct {
		label    string
		url      string
		compress bool
		ext      []string
	}{
		{"plain", u.plain, false, nil},
		{"deflate", u.deflate, true, []string{"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"}},
	}
	for _, m := range modes {
		dial := func(ctx context.Context, writeBuffer int) (*websocket.Conn, string, error) {
			d := websocket.Dialer{
				EnableCompression: m.compress,
				HandshakeTimeout:  10 * time.Second,
				WriteBufferSize:   writeBuffer,
			}
			c, resp, err := d.DialContext(ctx, m.url, nil)
			if err != nil {
				if resp != nil {
					err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
				}
				return nil, "", err
			}
			if dl, ok := ctx.Deadline(); ok {
				c.SetReadDeadline(dl)
				c.SetWriteDeadline(dl)
			}
			c.SetReadLimit(8 << 20)
			if m.compress {
				c.EnableWriteCompression(true)
			}
			return c, resp.Header.Get("Sec-WebSocket-Extensions"), nil
		}
		echo := func(c *websocket.Conn, typ int, p []byte) error {
			if err := c.WriteMessage(typ, p); err != nil {
				return err
			}
			gt, got, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if gt != typ {
				return fmt.Errorf("echo has message type %d, want %d", gt, typ)
			}
			return same(got, p)
		}

		s.run(m.label+"/negotiate", func(ctx context.Context) error {
			c, ext, err := dial(ctx, 0)
			if err != nil {
				return err
			}
			defer c.Close()
			return wantExtensions(ext, m.ext)
		})

		for _, n := range sizes {
			s.run(fmt.Sprintf("%s/size-%d", m.label, n), func(ctx context.Context) error {
				c, _, err := dial(ctx, 0)
				if err != nil {
					return err
				}
				defer c.Close()
				if err := echo(c, websocket.BinaryMessage, payload(n, n+1)); err != nil {
					return fmt.Errorf("binary: %w", err)
				}
				if err := echo(c, websocket.TextMessage, utf8Text(n)); err != nil {
					return fmt.Errorf("text: %w", err)
				}
				return nil
			})
		}

		s.run(m.label+"/sequence", func(ctx context.Context) error {
			c, _, err := dial(ctx, 0)
			if err != nil {
				return err
			}
			defer c.Close()
			for round := range 2 {
				for _, n := range sizes {
					if err := echo(c, websocket.BinaryMessage, payload(n, 7*n+round)); err != nil {
						return fmt.Errorf("round %d size %d: %w", round, n, err)
					}
				}
			}
			return nil
		})

		s.run(m.label+"/fragmented", func(ctx context.Context) error {
			// A 512-byte write buffer: NextWriter sends a frame each
			// time it fills, so the message goes out in many
			// fragments, cut inside multi-byte characters.
			c, _, err := dial(ctx, 512)
			if err != nil {
				return err
			}
			defer c.Close()
			for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
				whole := utf8Text(20000)
				if typ == websocket.BinaryMessage {
					whole = payload(70000, 5)
				}
				w, err := c.NextWriter(typ)
				if err != nil {
					return err
				}
				for p := whole; len(p) > 0; {
					k := min(777, len(p))
					if _, err := w.Write(p[:k]); err != nil {
						return err
					}
					p = p[k:]
				}
				if err := w.Close(); err != nil {
					return err
				}
				gt, got, err := c.ReadMessage()
				if err != nil {
					return err
				}
				if gt != typ {
					return fmt.Errorf("echo has message type %d, want %d", gt, typ)
				}
				if err := same(got, whole); err != nil {
					return err
				}
			}
			return nil
		})

		s.run(m.label+"/ping-payload", func(ctx context.Context) error {
			c, _, err := dial(ctx, 0)
			if err != nil {
				return err
			}
			defer c.Close()
			pongs := make(chan string, 1)
			c.SetPongHandler(func(p string) error {
				pongs <- p
				return nil
			})
			readErr := make(chan error, 1)
			go func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						readErr <- err
						return
					}
				}
			}()
			want := "ping ✓ 0123456789"
			dl, _ := ctx.Deadline()
			if err := c.WriteControl(websocket.PingMessage, []byte(want), dl); err != nil {
				return err
			}
			select {
			case got := <-pongs:
				if got != want {
					return fmt.Errorf("pong payload %q, want %q", got, want)
				}
				return nil
			case err := <-readErr:
				return fmt.Errorf("no pong: %w", err)
			case <-ctx.Done():
				return errors.New("no pong")
			}
		})

		s.run(m.label+"/close-code-reason", func(ctx context.Context) error {
			c, _, err := dial(ctx, 0)
			if err != nil {
				return err
			}
			defer c.Close()
			dl, _ := ctx.Deadline()
			msg := websocket.FormatCloseMessage(4003, "bye ✓")
			if err := c.WriteControl(websocket.CloseMessage, msg, dl); err != nil {
				return err
			}
			_, _, err = c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				return fmt.Errorf("%w: %v", errNoClose, err)
			}
			if ce.Code != 4003 {
				return fmt.Errorf("close code %d, want 4003 echoed", ce.Code)
			}
			return nil
		})
	}

	s.run("chat/server-close-reason", func(ctx context.Context) error {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		c, _, err := d.DialContext(ctx, u.chat, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		dl, _ := ctx.Deadline()
		c.SetReadDeadline(dl)
		if _, _, err := c.ReadMessage(); err != nil { // the join notice
			return err
		}
		if err := c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
			return err
		}
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			return fmt.Errorf("%w: %v", errNoClose, err)
		}
		if ce.Code != 1003 || ce.Text != "text messages only" {
			return fmt.Errorf("close %d %q, want 1003 \"text messages only\"", ce.Code, ce.Text)
		}
		return nil
	})

	s.run("chat/broadcast", func(ctx context.Context) error {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, EnableCompression: true}
		c, _, err := d.DialContext(ctx, u.chat, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		dl, _ := ctx.Deadline()
		c.SetReadDeadline(dl)
		if _, _, err := c.ReadMessage(); err != nil {
			return err
		}
		line := []byte(`{"name":"gorilla","text":"hello from gorilla ✓"}`)
		if err := c.WriteMessage(websocket.TextMessage, line); err != nil {
			return err
		}
		// Skip the room's notices (empty name) and other clients'
		// lines: the other suites share the room.
		for {
			_, got, err := c.ReadMessage()
			if err != nil {
				return err
			}
			var m struct{ Name, Text string }
			if err := json.Unmarshal(got, &m); err != nil {
				return fmt.Errorf("not JSON: %s", bytes.TrimSpace(got))
			}
			if m.Name != "gorilla" {
				continue
			}
			if m.Text != "hello from gorilla ✓" {
				return fmt.Errorf("broadcast %s", bytes.TrimSpace(got))
			}
			return nil
		}
	})
}

// holdUntilShutdown connects, prints "connected" and waits for the close
// frame a server sends when it is stopped (SIGTERM to an example: 1001,
// going away). run.sh stops the server once the line is out.
func holdUntilShutdown(s *suite, name, url string) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		s.run(name, func(context.Context) error { return err })
		return
	}
	defer c.Close()
	fmt.Println("connected")
	s.run(name, func(ctx context.Context) error {
		dl, _ := ctx.Deadline()
		c.SetReadDeadline(dl)
		for {
			_, _, err := c.ReadMessage() // the chat's notices come first
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				if ce.Code != websocket.CloseGoingAway {
					return fmt.Errorf("close %d %q, want 1001", ce.Code, ce.Text)
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("%w: %v", errNoClose, err)
			}
		}
	})
}
