package handshake

// Extension is one offer or answer in a Sec-WebSocket-Extensions header
// (RFC 6455 section 9.1): an extension token followed by its parameters in
// the order they were written.
type Extension struct {
	Name   string
	Params []Param
}

// Param is one extension parameter. HasValue distinguishes "name" from
// "name=" followed by a value; Value holds the unquoted value.
type Param struct {
	Name     string
	Value    string
	HasValue bool
}
