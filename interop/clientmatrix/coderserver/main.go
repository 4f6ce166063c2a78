// Command coderserver is a coder/websocket server for the client matrix:
// the peer the project's client is tested against.
//
//	coderserver [-addr 127.0.0.1:0] [-deflate] [-cert FILE -key FILE]
//
// Paths as every peer of the matrix (../README.md): /echo,
// /fragmented-ping?n=K, /fragmented?n=K (a message Writer: one frame per Write, then an empty final frame on
// Close; with -deflate the compressor's output decides the frames),
// /close?code=C&reason=R, /ping (coder's Ping picks its own payloads and
// checks the pong's), /invalid-utf8, /headers and /refuse. With -deflate it accepts permessage-deflate with
// context takeover.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"unievent.dev/interop/clientmatrix/internal/peer"
)

func main() {
	f := peer.ParseFlags()
	opts := &websocket.AcceptOptions{
		CompressionMode:    websocket.CompressionDisabled,
		InsecureSkipVerify: true, // any Origin: the driver sends none
		Subprotocols:       []string{peer.Subprotocol},
	}
	if f.Deflate {
		opts.CompressionMode = websocket.CompressionContextTakeover
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/refuse", peer.Refuse)
	handle := func(path string, serve func(context.Context, *websocket.Conn, *http.Request)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, opts)
			if err != nil {
				return // Accept has answered with an error status
			}
			defer c.CloseNow()
			c.SetReadLimit(64 << 20)
			ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
			defer cancel()
			serve(ctx, c, r)
		})
	}
	handle("/echo", echo)
	handle("/fragmented", fragmented)
	handle("/fragmented-ping", fragmentedPing)
	handle("/headers", func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		c.Write(ctx, websocket.MessageText, []byte(peer.Headers(r)))
		echo(ctx, c, r) // until the client closes
	})
	handle("/invalid-utf8", func(ctx context.Context, c *websocket.Conn, r *http.Request) {
		c.Write(ctx, websocket.MessageText, peer.InvalidUTF8) // coder does not check what it sends
		echo(ctx, c, r)                                       // until the client closes
	})
	handle("/close", closeNow)
	handle("/ping", ping)
	peer.Serve(f, mux)
}

func echo(ctx context.Context, c *websocket.Conn, _ *http.Request) {
	for {
		typ, p, err := c.Read(ctx)
		if err != nil {
			return // the client closed; coder answered its close frame
		}
		if err := c.Write(ctx, typ, p); err != nil {
			return
		}
	}
}

func fragmented(ctx context.Context, c *websocket.Conn, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	for {
		typ, p, err := c.Read(ctx)
		if err != nil {
			return
		}
		w, err := c.Writer(ctx, typ)
		if err != nil {
			return
		}
		for _, piece := range peer.Pieces(p, n) {
			if _, err := w.Write(piece); err != nil {
				return
			}
		}
		if err := w.Close(); err != nil {
			return
		}
	}
}

// fragmentedPing sends the first message back in n fragments with a ping
// after each but the last (a Writer holds the message, not the
// connection: control frames go between its frames), each pong awaited
// before the next fragment, then the verdict.
func fragmentedPing(ctx context.Context, c *websocket.Conn, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	typ, p, err := c.Read(ctx)
	if err != nil {
		return
	}
	readDone := readOn(ctx, c)
	w, err := c.Writer(ctx, typ)
	if err != nil {
		return
	}
	verdict := "ok"
	pieces := peer.Pieces(p, n)
	for i, piece := range pieces {
		if _, err := w.Write(piece); err != nil {
			return
		}
		if i < len(pieces)-1 && verdict == "ok" {
			verdict = pingPong(ctx, c, i+1)
		}
	}
	if err := w.Close(); err != nil {
		return
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(verdict)); err != nil {
		return
	}
	<-readDone
}

// readOn reads in a goroutine of its own, which coder's Ping needs to see
// the pong; the channel is closed when the reading ends (the client
// closed, or ctx ended).
func readOn(ctx context.Context, c *websocket.Conn) chan struct{} {
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	return readDone
}

// pingPong runs coder's Ping (its own payload, the pong's checked) and
// returns "ok" or what was wrong.
func pingPong(ctx context.Context, c *websocket.Conn, i int) string {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Sprintf("no pong within 5 s for ping %d", i)
		}
		return fmt.Sprintf("ping %d: %v", i, err)
	}
	return "ok"
}

// closeNow runs coder's closing handshake: it sends the close frame and
// waits for the client's.
func closeNow(_ context.Context, c *websocket.Conn, r *http.Request) {
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	if err := c.Close(websocket.StatusCode(code), r.URL.Query().Get("reason")); err != nil {
		log.Printf("close: %v", err)
	}
}

// ping pings three times.
func ping(ctx context.Context, c *websocket.Conn, _ *http.Request) {
	readDone := readOn(ctx, c)
	verdict := "ok"
	for i := range 3 {
		if verdict = pingPong(ctx, c, i+1); verdict != "ok" {
			break
		}
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(verdict)); err != nil {
		return
	}
	<-readDone // the client closed, or ctx ended
}
