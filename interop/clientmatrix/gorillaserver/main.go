// Command gorillaserver is a gorilla/websocket server for the client
// matrix: the peer the project's client is tested against.
//
//	gorillaserver [-addr 127.0.0.1:0] [-deflate] [-cert FILE -key FILE]
//
// Paths as every peer of the matrix (../README.md): /echo, /fragmented?n=K,
// /fragmented-ping?n=K, /close?code=C&reason=R, /close-abrupt?code=C&reason=R,
// /ping, /invalid-utf8, /headers and /refuse. gorilla has no call that ends a
// fragment: a message writer sends a frame when its write buffer (4 KiB
// here) is full or for a write over twice its size, so /fragmented writes
// the K pieces and gets one frame per piece larger than 8 KiB, and frames
// of 4 KiB (of compressed data with -deflate) otherwise. With -deflate
// gorilla answers permessage-deflate with both no-context-takeover
// parameters, all it supports.
package main

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"unievent.dev/interop/clientmatrix/internal/peer"
)

func main() {
	f := peer.ParseFlags()
	up := &websocket.Upgrader{
		EnableCompression: f.Deflate,
		WriteBufferSize:   4096,
		CheckOrigin:       func(*http.Request) bool { return true },
		Subprotocols:      []string{peer.Subprotocol},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/refuse", peer.Refuse)
	handle := func(path string, serve func(*websocket.Conn, *http.Request)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return // Upgrade has answered with an error status
			}
			defer c.Close()
			serve(c, r)
		})
	}
	handle("/echo", echo)
	handle("/fragmented", fragmented)
	handle("/fragmented-ping", fragmentedPing)
	handle("/headers", func(c *websocket.Conn, r *http.Request) {
		c.WriteMessage(websocket.TextMessage, []byte(peer.Headers(r)))
		echo(c, r) // until the client closes
	})
	handle("/invalid-utf8", func(c *websocket.Conn, r *http.Request) {
		c.WriteMessage(websocket.TextMessage, peer.InvalidUTF8) // gorilla does not check what it sends
		echo(c, r)                                              // until the client closes
	})
	handle("/close", closeNow)
	handle("/close-abrupt", closeAbrupt)
	handle("/ping", ping)
	peer.Serve(f, mux)
}

func echo(c *websocket.Conn, _ *http.Request) {
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return // the client closed; gorilla answered its close frame
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return
		}
	}
}

func fragmented(c *websocket.Conn, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		w, err := c.NextWriter(mt)
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
// after each but the last (WriteControl may be called beside a message
// writer), each pong awaited before the next fragment, then the verdict.
// The pieces are over 8 KiB in the cases, so each goes out as a frame of
// its own at once.
func fragmentedPing(c *websocket.Conn, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	mt, p, err := c.ReadMessage()
	if err != nil {
		return
	}
	pongs, readDone := readPongs(c)
	w, err := c.NextWriter(mt)
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
			verdict = pingPong(c, pongs, []byte(fmt.Sprintf("fragment-%d", i)))
		}
	}
	if err := w.Close(); err != nil {
		return
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(verdict)); err != nil {
		return
	}
	select {
	case <-readDone: // the client closed
	case <-time.After(10 * time.Second):
	}
}

// readPongs reads in a goroutine of its own, so that the pong handler
// runs, and hands the pongs' payloads over; readDone is closed when the
// reading ends (the client closed).
func readPongs(c *websocket.Conn) (pongs chan []byte, readDone chan struct{}) {
	pongs = make(chan []byte, 4)
	c.SetPongHandler(func(s string) error {
		pongs <- []byte(s)
		return nil
	})
	readDone = make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return pongs, readDone
}

// pingPong pings with p and returns "ok" once the pong carries p, or what
// was wrong.
func pingPong(c *websocket.Conn, pongs chan []byte, p []byte) string {
	if err := c.WriteControl(websocket.PingMessage, p, time.Now().Add(5*time.Second)); err != nil {
		return fmt.Sprintf("ping: %v", err)
	}
	select {
	case got := <-pongs:
		if !bytes.Equal(got, p) {
			return fmt.Sprintf("pong %q for a ping of %d bytes", got, len(p))
		}
		return "ok"
	case <-time.After(5 * time.Second):
		return fmt.Sprintf("no pong within 5 s for a ping of %d bytes", len(p))
	}
}

// closeNow starts the closing handshake, then reads until the client's
// close frame, which gorilla's default handler would answer with a second
// close frame: the handler here sends nothing.
func closeNow(c *websocket.Conn, r *http.Request) {
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	msg := websocket.FormatCloseMessage(code, r.URL.Query().Get("reason"))
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		log.Printf("close: %v", err)
		return
	}
	c.SetCloseHandler(func(int, string) error { return nil })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// closeAbrupt sends the close frame and closes the TCP connection at
// once, without waiting for the client's (as many servers do): the client
// must still report the code and reason it received (RFC 6455 section
// 7.1.5).
func closeAbrupt(c *websocket.Conn, r *http.Request) {
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	msg := websocket.FormatCloseMessage(code, r.URL.Query().Get("reason"))
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
		log.Printf("close: %v", err)
	}
	// the deferred c.Close closes the TCP connection
}

// ping sends the three pings one at a time and checks each pong.
func ping(c *websocket.Conn, _ *http.Request) {
	pongs, readDone := readPongs(c)
	verdict := "ok"
	for _, p := range peer.PingPayloads {
		if verdict = pingPong(c, pongs, p); verdict != "ok" {
			break
		}
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(verdict)); err != nil {
		return
	}
	select {
	case <-readDone: // the client closed
	case <-time.After(10 * time.Second):
	}
}
