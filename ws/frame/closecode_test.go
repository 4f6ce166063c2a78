package frame

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCloseCodeValidOnWire walks all 65536 codes against the ranges of
// RFC 6455 section 7.4 and the IANA registry, written out independently of
// the implementation.
func TestCloseCodeValidOnWire(t *testing.T) {
	forbidden := map[CloseCode]bool{1004: true, 1005: true, 1006: true, 1015: true}
	for c := 0; c <= 0xFFFF; c++ {
		code := CloseCode(c)
		var want bool
		switch {
		case c < 1000:
			want = false // never used
		case c <= 1014:
			want = !forbidden[code]
		case c < 3000:
			want = false // reserved for future revisions, or 1015
		case c < 5000:
			want = true // registered and private use
		default:
			want = false
		}
		if got := code.ValidOnWire(); got != want {
			t.Errorf("CloseCode(%d).ValidOnWire() = %v, want %v", c, got, want)
		}
	}
}

func TestCloseCodeString(t *testing.T) {
	got := map[CloseCode]string{}
	for _, c := range []CloseCode{
		CloseNormal, CloseAway, CloseProtocolError, CloseUnsupportedData, CloseNoStatus,
		CloseAbnormal, CloseInvalidPayload, ClosePolicyViolation, CloseMessageTooBig,
		CloseMandatoryExtension, CloseInternalError, CloseServiceRestart, CloseTryAgainLater,
		CloseBadGateway, CloseTLSHandshake, 1004, 3000, 4999,
	} {
		got[c] = c.String()
	}
	want := map[CloseCode]string{
		1000: "normal closure",
		1001: "going away",
		1002: "protocol error",
		1003: "unsupported data",
		1004: "close code 1004",
		1005: "no status received",
		1006: "abnormal closure",
		1007: "invalid payload data",
		1008: "policy violation",
		1009: "message too big",
		1010: "mandatory extension",
		1011: "internal error",
		1012: "service restart",
		1013: "try again later",
		1014: "bad gateway",
		1015: "TLS handshake failure",
		3000: "close code 3000",
		4999: "close code 4999",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CloseCode.String (-want +got):\n%s", diff)
	}
}
