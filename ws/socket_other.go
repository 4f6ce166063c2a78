//go:build !unix

package ws

// sockReader is not implemented here: the connection reads through
// net.Conn and holds its read buffer while it waits.
type sockReader struct{}

// sockRead is empty here: there is no read in progress to keep.
type sockRead struct{}

func (*sockReader) init(transport, int) {}
func (*sockReader) usable() bool        { return false }
func (*sockReader) read(*sockRead) ([]byte, int, error) {
	panic("unreachable: usable is false")
}
