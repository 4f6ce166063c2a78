package permessagedeflate

import (
	"strconv"

	"unievent.dev/ws/handshake"
)

// ExtensionName is the extension token of RFC 7692 section 7
// (https://www.rfc-editor.org/rfc/rfc7692#section-7).
const ExtensionName = "permessage-deflate"

// The extension parameters of RFC 7692 section 7.1
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1).
const (
	paramServerNoContextTakeover = "server_no_context_takeover"
	paramClientNoContextTakeover = "client_no_context_takeover"
	paramServerMaxWindowBits     = "server_max_window_bits"
	paramClientMaxWindowBits     = "client_max_window_bits"
)

// Params are the agreed parameters of a connection, as the server sees
// them: Server* govern what the server compresses, Client* what it
// inflates. Window bits of 0 mean 15, and others outside 8..15 are
// clamped into it; Negotiate always fills them in. A client-side caller
// would swap the Server and Client fields.
type Params struct {
	// ServerNoContextTakeover: the server resets its compressor after
	// every message.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client resets its compressor after
	// every message, so the server inflates each message on its own.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits bounds the distances the server emits (8..15).
	ServerMaxWindowBits int
	// ClientMaxWindowBits bounds the distances the client emits (8..15).
	ClientMaxWindowBits int
}

// offer is one permessage-deflate offer after validation.
type offer struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int  // 0: not offered
	clientMaxWindowBits     int  // 0: not offered or offered without a value
	clientMaxWindowOffered  bool // client_max_window_bits present, with or without a value
}

// Negotiate picks the first offer in offers that the server can accept
// (RFC 7692 sections 5 and 7.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-5,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1) and returns the agreed
// parameters and the extension to put in the response's
// Sec-WebSocket-Extensions header. ok is false when no offer is acceptable,
// in which case the connection runs uncompressed. A nil cfg means the zero
// Config; an invalid cfg declines every offer.
//
// Offers named other than permessage-deflate are skipped. An offer with an
// unknown or repeated parameter or an invalid value is declined, as
// section 7 (https://www.rfc-editor.org/rfc/rfc7692#section-7) requires, and
// the next one is tried. Every valid offer can be honoured, since this
// package compresses with any window from 8 to 15 bits, so the first valid
// offer is taken. Names are compared exactly: the registered names are lower
// case.
//
// The answer is built per section 7.1
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1):
//   - server_no_context_takeover is answered when offered (we must comply)
//     or when cfg asks for it.
//   - client_no_context_takeover is answered when cfg asks for it or when
//     the client offered it. Echoing the client's own hint (7.1.1.2) costs
//     it nothing and turns it into an agreement, which is what lets the
//     server pool its decompressor.
//   - server_max_window_bits is answered, with min(offer, cfg), when
//     offered (7.1.2.1 requires the answer then) or when cfg is below 15.
//   - client_max_window_bits is answered only when offered (7.1.2.2
//     forbids it otherwise) and only when it lowers the window below 15:
//     the value is min(offered value, cfg), so it never exceeds what the
//     client offered, which strict clients check. Not offered, the client
//     compresses with up to 15 bits, which the server always inflates.
func Negotiate(offers []handshake.Extension, cfg *Config) (p Params, answer handshake.Extension, ok bool) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.Validate() != nil {
		return Params{}, handshake.Extension{}, false
	}
	for i := range offers {
		if offers[i].Name != ExtensionName {
			continue
		}
		o, valid := parseOffer(offers[i].Params)
		if !valid {
			continue
		}
		p, answer = accept(o, cfg)
		return p, answer, true
	}
	return Params{}, handshake.Extension{}, false
}

// parseOffer validates the parameters of one offer (section 7.1,
// https://www.rfc-editor.org/rfc/rfc7692#section-7.1).
func parseOffer(params []handshake.Param) (o offer, valid bool) {
	var seen [4]bool
	for _, prm := range params {
		var idx int
		switch prm.Name {
		case paramServerNoContextTakeover:
			idx = 0
			if prm.HasValue {
				return offer{}, false // 7.1.1.1: this parameter has no value
			}
			o.serverNoContextTakeover = true
		case paramClientNoContextTakeover:
			idx = 1
			if prm.HasValue {
				return offer{}, false // 7.1.1.2: this parameter has no value
			}
			o.clientNoContextTakeover = true
		case paramServerMaxWindowBits:
			idx = 2
			bits, good := parseBits(prm) // 7.1.2.1: a value is required
			if !good {
				return offer{}, false
			}
			o.serverMaxWindowBits = bits
		case paramClientMaxWindowBits:
			idx = 3
			o.clientMaxWindowOffered = true
			if prm.HasValue { // 7.1.2.2: the value is optional
				bits, good := parseBits(prm)
				if !good {
					return offer{}, false
				}
				o.clientMaxWindowBits = bits
			}
		default:
			return offer{}, false // section 7: unknown parameter
		}
		if seen[idx] {
			return offer{}, false // section 7: more than one of a kind
		}
		seen[idx] = true
	}
	return o, true
}

// parseBits accepts the window-bits grammar of section 7.1.2
// (https://www.rfc-editor.org/rfc/rfc7692#section-7.1.2): a decimal integer
// 8..15 without leading zeros, so "08", "+9" and " 9" are invalid.
func parseBits(prm handshake.Param) (int, bool) {
	v := prm.Value
	if !prm.HasValue || len(v) == 0 || len(v) > 2 || v[0] < '1' || v[0] > '9' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int(v[i]-'0')
	}
	if n < minWindowBits || n > maxWindowBits {
		return 0, false
	}
	return n, true
}

// accept builds the agreed parameters and the answer for a valid offer.
func accept(o offer, cfg *Config) (Params, handshake.Extension) {
	p := Params{
		ServerNoContextTakeover: o.serverNoContextTakeover || cfg.ServerNoContextTakeover,
		ClientNoContextTakeover: o.clientNoContextTakeover || cfg.ClientNoContextTakeover,
		ServerMaxWindowBits:     bitsOr15(cfg.ServerMaxWindowBits),
		ClientMaxWindowBits:     maxWindowBits,
	}
	if o.serverMaxWindowBits != 0 {
		p.ServerMaxWindowBits = min(p.ServerMaxWindowBits, o.serverMaxWindowBits)
	}
	answer := handshake.Extension{Name: ExtensionName}
	if p.ServerNoContextTakeover {
		answer.Params = append(answer.Params, handshake.Param{Name: paramServerNoContextTakeover})
	}
	if p.ClientNoContextTakeover {
		answer.Params = append(answer.Params, handshake.Param{Name: paramClientNoContextTakeover})
	}
	if o.serverMaxWindowBits != 0 || p.ServerMaxWindowBits < maxWindowBits {
		answer.Params = append(answer.Params, bitsParam(paramServerMaxWindowBits, p.ServerMaxWindowBits))
	}
	if o.clientMaxWindowOffered {
		bits := bitsOr15(cfg.ClientMaxWindowBits)
		if o.clientMaxWindowBits != 0 {
			bits = min(bits, o.clientMaxWindowBits)
		}
		// With a value, the offer already bounds the client's window
		// (7.1.2.2), whether or not the answer repeats it.
		p.ClientMaxWindowBits = bits
		if bits < maxWindowBits {
			answer.Params = append(answer.Params, bitsParam(paramClientMaxWindowBits, bits))
		}
	}
	return p, answer
}

func bitsParam(name string, bits int) handshake.Param {
	return handshake.Param{Name: name, Value: strconv.Itoa(bits), HasValue: true}
}
