package permessagedeflate

import (
	"compress/flate"
	"fmt"
)

// DefaultThreshold is the message size below which messages are sent
// uncompressed when Config.Threshold is 0. Every compressed message pays
// block framing and a compressor pass, and a short one compressed on its
// own holds few repeats: for JSON records, compress/flate output is 1.19
// times the input at 32 bytes, 1.03 at 64 and 0.84 at 128. With context
// takeover, the default, a 64-byte message can refer to earlier ones and
// shrink much further, so 64 is where compression starts to pay in the
// common case without wasting work on tiny control-like messages.
const DefaultThreshold = 64

// Config is a server's permessage-deflate policy. The zero value is valid:
// BestSpeed, DefaultThreshold, context takeover in both directions and
// 15-bit windows.
type Config struct {
	// Level is the compress/flate level, 1 (BestSpeed) to 9
	// (BestCompression), or flate.HuffmanOnly; flate.DefaultCompression
	// (-1) means 6. 0 means the default, 1: unlike compress/flate, 0 is not
	// "no compression" (a server that wants that disables the extension).
	// Below a 15-bit window it sets how hard the encoder of internal/deflate
	// searches for matches, on the same scale.
	Level int

	// Threshold is the size in bytes below which a message goes out
	// uncompressed (RSV1 clear); 0 means DefaultThreshold. See
	// Compressor.ShouldCompress.
	Threshold int

	// ServerNoContextTakeover makes the server reset its compressor after
	// every message and say so (RFC 7692 section 7.1.1.1,
	// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.1.1). It trades
	// compression ratio for memory: the compressor is pooled between
	// messages instead of held by the connection.
	ServerNoContextTakeover bool

	// ClientNoContextTakeover asks the client to reset its compressor after
	// every message (section 7.1.1.2,
	// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.1.2), so the server
	// need not keep the client's window between messages.
	ClientNoContextTakeover bool

	// ServerMaxWindowBits is the largest LZ77 window (base-2 logarithm,
	// 8..15) the server compresses with; 0 means 15. Below 15 the server
	// announces it even when the client did not ask (section 7.1.2.1,
	// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.1).
	ServerMaxWindowBits int

	// ClientMaxWindowBits is the window (8..15) the server asks the client
	// to compress with; 0 means 15. It can only be asked of a client that
	// offered client_max_window_bits (section 7.1.2.2,
	// https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2.2).
	ClientMaxWindowBits int
}

// Validate reports a Config whose level, threshold or window bits are out
// of range. Negotiate declines every offer for an invalid Config, and
// NewCompressor falls back to defaults, so a Config that was never
// validated cannot cause a panic later.
func (c *Config) Validate() error {
	if c == nil {
		return nil // nil means the zero Config
	}
	switch {
	case c.Level != 0 && c.Level != flate.HuffmanOnly && c.Level != flate.DefaultCompression &&
		(c.Level < flate.BestSpeed || c.Level > flate.BestCompression):
		return fmt.Errorf("permessagedeflate: compression level %d outside 1..9", c.Level)
	case c.Threshold < 0:
		return fmt.Errorf("permessagedeflate: negative threshold %d", c.Threshold)
	case !validBits(c.ServerMaxWindowBits):
		return fmt.Errorf("permessagedeflate: server window bits %d outside 8..15", c.ServerMaxWindowBits)
	case !validBits(c.ClientMaxWindowBits):
		return fmt.Errorf("permessagedeflate: client window bits %d outside 8..15", c.ClientMaxWindowBits)
	}
	return nil
}

func validBits(b int) bool { return b == 0 || b >= minWindowBits && b <= maxWindowBits }

const (
	minWindowBits = 8
	maxWindowBits = 15
)

// bitsOr15 maps the "0 means 15" convention of Config and Params. Other
// values out of range are clamped; one below 8 becomes 8, as a smaller
// window than agreed is always safe to compress with.
func bitsOr15(b int) int {
	if b == 0 {
		return maxWindowBits
	}
	return min(max(b, minWindowBits), maxWindowBits)
}

// level returns the effective compress/flate level.
func (c *Config) level() int {
	switch {
	case c == nil || c.Level == 0:
		return flate.BestSpeed
	case c.Level == flate.DefaultCompression:
		return 6
	case c.Level == flate.HuffmanOnly, c.Level >= flate.BestSpeed && c.Level <= flate.BestCompression:
		return c.Level
	}
	return flate.BestSpeed
}

func (c *Config) threshold() int {
	if c == nil || c.Threshold <= 0 {
		return DefaultThreshold
	}
	return c.Threshold
}
