package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coder/websocket"
)

// coderSuite runs coder/websocket in its three compression modes. Its
// Close returns nil only when the peer answered with the same close code.
func coderSuite(s *suite, u urls) {
	modes := []struct {
		label string
		url   string
		mode  websocket.CompressionMode
		ext   []string
	}{
		{"plain", u.plain, websocket.CompressionDisabled, nil},
		{"deflate", u.deflate, websocket.CompressionContextTakeover, []string{"permessage-deflate"}},
		{"deflate-nocontext", u.deflate, websocket.CompressionNoContextTakeover, []string{"permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"}},
	}
	for _, m := range modes {
		dial := func(ctx context.Context) (*websocket.Conn, string, error) {
			c, resp, err := websocket.Dial(ctx, m.url, &websocket.DialOptions{
				CompressionMode:      m.mode,
				CompressionThreshold: 1, // compress even tiny messages
			})
			if err != nil {
				return nil, "", err
			}
			c.SetReadLimit(8 << 20)
			return c, resp.Header.Get("Sec-WebSocket-Extensions"), nil
		}
		echo := func(ctx context.Context, c *websocket.Conn, typ websocket.MessageType, p []byte) error {
			if err := c.Write(ctx, typ, p); err != nil {
				return err
			}
			gt, got, err := c.Read(ctx)
			if err != nil {
				return err
			}
			if gt != typ {
				return fmt.Errorf("echo has message type %v, want %v", gt, typ)
			}
			return same(got, p)
		}

		s.run(m.label+"/negotiate", func(ctx context.Context) error {
			c, ext, err := dial(ctx)
			if err != nil {
				return err
			}
			defer c.CloseNow()
			return wantExtensions(ext, m.ext)
		})

		for _, n := range sizes {
			s.run(fmt.Sprintf("%s/size-%d", m.label, n), func(ctx context.Context) error {
				c, _, err := dial(ctx)
				if err != nil {
					return err
				}
				defer c.CloseNow()
				if err := echo(ctx, c, websocket.MessageBinary, payload(n, n+1)); err != nil {
					return fmt.Errorf("binary: %w", err)
				}
				if err := echo(ctx, c, websocket.MessageText, utf8Text(n)); err != nil {
					return fmt.Errorf("text: %w", err)
				}
				return c.Close(websocket.StatusNormalClosure, "")
			})
		}

		s.run(m.label+"/sequence", func(ctx context.Context) error {
			c, _, err := dial(ctx)
			if err != nil {
				return err
			}
			defer c.CloseNow()
			for round := range 2 {
				for _, n := range sizes {
					if err := echo(ctx, c, websocket.MessageBinary, payload(n, 7*n+round)); err != nil {
						return fmt.Errorf("round %d size %d: %w", round, n, err)
					}
				}
			}
			return c.Close(websocket.StatusNormalClosure, "")
		})

		s.run(m.label+"/fragmented", func(ctx context.Context) error {
			// Without compression every Write of a Writer is one frame;
			// with it, the compressor's output is framed as it flushes.
			c, _, err := dial(ctx)
			if err != nil {
				return err
			}
			defer c.CloseNow()
			for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
				whole := utf8Text(20000)
				if typ == websocket.MessageBinary {
					whole = payload(70000, 5)
				}
				w, err := c.Writer(ctx, typ)
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
				gt, got, err := c.Read(ctx)
				if err != nil {
					return err
				}
				if gt != typ {
					return fmt.Errorf("echo has message type %v, want %v", gt, typ)
				}
				if err := same(got, whole); err != nil {
					return err
				}
			}
			return c.Close(websocket.StatusNormalClosure, "")
		})

		s.run(m.label+"/ping-payload", func(ctx context.Context) error {
			c, _, err := dial(ctx)
			if err != nil {
				return err
			}
			defer c.CloseNow()
			// Pongs are read by a reader: CloseRead runs one.
			c.CloseRead(ctx)
			for range 3 {
				if err := c.Ping(ctx); err != nil {
					return err
				}
			}
			return c.Close(websocket.StatusNormalClosure, "")
		})

		s.run(m.label+"/close-code-reason", func(ctx context.Context) error {
			c, _, err := dial(ctx)
			if err != nil {
				return err
			}
			defer c.CloseNow()
			if err := c.Close(4004, "bye ✓"); err != nil {
				return fmt.Errorf("close handshake: %w", err)
			}
			return nil
		})
	}

	s.run("chat/server-close-reason", func(ctx context.Context) error {
		c, _, err := websocket.Dial(ctx, u.chat, nil)
		if err != nil {
			return err
		}
		defer c.CloseNow()
		if _, _, err := c.Read(ctx); err != nil { // the join notice
			return err
		}
		if err := c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
			return err
		}
		_, _, err = c.Read(ctx)
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			return fmt.Errorf("%w: %v", errNoClose, err)
		}
		if ce.Code != websocket.StatusUnsupportedData || ce.Reason != "text messages only" {
			return fmt.Errorf("close %d %q, want 1003 \"text messages only\"", ce.Code, ce.Reason)
		}
		return nil
	})

	s.run("chat/broadcast", func(ctx context.Context) error {
		c, _, err := websocket.Dial(ctx, u.chat, &websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return err
		}
		defer c.CloseNow()
		if _, _, err := c.Read(ctx); err != nil {
			return err
		}
		line := `{"name":"coder","text":"hello from coder ✓"}`
		if err := c.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
			return err
		}
		// Skip the room's notices (empty name) and other clients'
		// lines: the other suites share the room.
		for {
			_, got, err := c.Read(ctx)
			if err != nil {
				return err
			}
			var msg struct{ Name, Text string }
			if err := json.Unmarshal(got, &msg); err != nil {
				return fmt.Errorf("not JSON: %s", got)
			}
			if msg.Name != "coder" {
				continue
			}
			if msg.Text != "hello from coder ✓" {
				return fmt.Errorf("broadcast %s", got)
			}
			return c.Close(websocket.StatusNormalClosure, "")
		}
	})
}
