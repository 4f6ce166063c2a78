package permessagedeflate

import (
	"errors"
	"fmt"

	"unievent.dev/ws/handshake"
)

// ErrBadAnswer is wrapped by the errors of CheckAnswer: the server's answer
// to a client's offer breaks RFC 7692 section 7.1
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1), and the client must
// fail the connection (section 5.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-5.1).
var ErrBadAnswer = errors.New("permessagedeflate: invalid answer to the offer")

// Offer returns the offer a client makes with cfg (RFC 7692 section 7.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1), read from the
// client's side: ServerNoContextTakeover and ServerMaxWindowBits ask the
// server to reset its compressor or to bound its window,
// ClientNoContextTakeover announces that the client resets its own, and
// client_max_window_bits is always offered, with ClientMaxWindowBits as its
// value when that is set, so that a server may ask for a smaller window
// (this package compresses with any from 8 to 15 bits). A nil cfg means the
// zero Config.
func Offer(cfg *Config) handshake.Extension {
	if cfg == nil {
		cfg = &Config{}
	}
	e := handshake.Extension{Name: ExtensionName}
	if cfg.ServerNoContextTakeover {
		e.Params = append(e.Params, handshake.Param{Name: paramServerNoContextTakeover})
	}
	if cfg.ClientNoContextTakeover {
		e.Params = append(e.Params, handshake.Param{Name: paramClientNoContextTakeover})
	}
	if cfg.ServerMaxWindowBits != 0 {
		e.Params = append(e.Params, bitsParam(paramServerMaxWindowBits, bitsOr15(cfg.ServerMaxWindowBits)))
	}
	if cfg.ClientMaxWindowBits != 0 {
		e.Params = append(e.Params, bitsParam(paramClientMaxWindowBits, bitsOr15(cfg.ClientMaxWindowBits)))
	} else {
		e.Params = append(e.Params, handshake.Param{Name: paramClientMaxWindowBits})
	}
	return e
}

// CheckAnswer validates a server's answer to Offer(cfg) and returns the
// agreed parameters, as Negotiate returns them to a server (the Server*
// fields govern what the server compresses). Strictly per section 7.1
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1), an answer fails with
// an error wrapping ErrBadAnswer when it names another extension, holds a
// parameter that is unknown, repeated or has an invalid value (section 7,
// https://www.rfc-editor.org/rfc/rfc7692#section-7), omits
// server_max_window_bits though the offer asked for it or answers it above
// the offered value (7.1.2.1), or holds client_max_window_bits above the
// offered value (7.1.2.2). server_no_context_takeover,
// client_no_context_takeover and a server_max_window_bits that was not asked
// for may be answered freely: the client complies.
func CheckAnswer(answer handshake.Extension, cfg *Config) (Params, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if answer.Name != ExtensionName {
		return Params{}, fmt.Errorf("%w: extension %q was not offered", ErrBadAnswer, answer.Name)
	}
	p := Params{
		ClientNoContextTakeover: cfg.ClientNoContextTakeover,
		ServerMaxWindowBits:     maxWindowBits,
		ClientMaxWindowBits:     bitsOr15(cfg.ClientMaxWindowBits),
	}
	var seen [4]bool
	serverBits := false
	for _, prm := range answer.Params {
		var idx int
		switch prm.Name {
		case paramServerNoContextTakeover, paramClientNoContextTakeover:
			idx = 0
			if prm.Name == paramClientNoContextTakeover {
				idx = 1
			}
			if prm.HasValue {
				return Params{}, fmt.Errorf("%w: %s has a value", ErrBadAnswer, prm.Name)
			}
			if idx == 0 {
				p.ServerNoContextTakeover = true
			} else {
				p.ClientNoContextTakeover = true
			}
		case paramServerMaxWindowBits:
			idx = 2
			bits, ok := parseBits(prm)
			if !ok {
				return Params{}, fmt.Errorf("%w: server_max_window_bits=%q", ErrBadAnswer, prm.Value)
			}
			if cfg.ServerMaxWindowBits != 0 && bits > bitsOr15(cfg.ServerMaxWindowBits) {
				return Params{}, fmt.Errorf("%w: server_max_window_bits=%d is above the %d offered", ErrBadAnswer, bits, bitsOr15(cfg.ServerMaxWindowBits))
			}
			p.ServerMaxWindowBits = bits
			serverBits = true
		case paramClientMaxWindowBits:
			idx = 3
			bits, ok := parseBits(prm) // in an answer it carries a value
			if !ok {
				return Params{}, fmt.Errorf("%w: client_max_window_bits=%q", ErrBadAnswer, prm.Value)
			}
			if bits > p.ClientMaxWindowBits {
				return Params{}, fmt.Errorf("%w: client_max_window_bits=%d is above the %d offered", ErrBadAnswer, bits, p.ClientMaxWindowBits)
			}
			p.ClientMaxWindowBits = bits
		default:
			return Params{}, fmt.Errorf("%w: parameter %q was not offered", ErrBadAnswer, prm.Name)
		}
		if seen[idx] {
			return Params{}, fmt.Errorf("%w: %s is repeated", ErrBadAnswer, prm.Name)
		}
		seen[idx] = true
	}
	if cfg.ServerMaxWindowBits != 0 && !serverBits {
		return Params{}, fmt.Errorf("%w: server_max_window_bits was offered and not answered", ErrBadAnswer)
	}
	return p, nil
}
