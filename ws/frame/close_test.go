package frame

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseClosePayload(t *testing.T) {
	type result struct {
		Code    CloseCode
		Reason  string
		ErrCode CloseCode
		ErrText string
	}
	tests := []struct {
		name string
		in   []byte
		want result
	}{
		{"empty", nil, result{Code: CloseNoStatus}},
		{"code only", []byte{0x03, 0xE8}, result{Code: CloseNormal}},
		{"code and reason", []byte("\x03\xe9going"), result{Code: CloseAway, Reason: "going"}},
		{"utf8 reason", []byte("\x0f\xa0h\xc3\xa9"), result{Code: 4000, Reason: "hé"}},
		{"private max", []byte{0x13, 0x87}, result{Code: 4999}},
		{"registered min", []byte{0x0b, 0xb8}, result{Code: 3000}},
		{"max length", append([]byte{0x03, 0xe8}, strings.Repeat("a", 123)...), result{Code: CloseNormal, Reason: strings.Repeat("a", 123)}},
		{"one byte", []byte{0x03}, result{ErrCode: CloseProtocolError, ErrText: "1 byte"}},
		{"too long", append([]byte{0x03, 0xe8}, strings.Repeat("a", 124)...), result{ErrCode: CloseProtocolError, ErrText: "over 125"}},
		{"code 0", []byte{0, 0}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"code 999", []byte{0x03, 0xe7}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"code 1004", []byte{0x03, 0xec}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"code 1005 on wire", []byte{0x03, 0xed}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"code 1006 on wire", []byte{0x03, 0xee}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"code 1015 on wire", []byte{0x03, 0xf7}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"code 2999", []byte{0x0b, 0xb7}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"code 5000", []byte{0x13, 0x88}, result{ErrCode: CloseProtocolError, ErrText: "invalid close code"}},
		{"invalid utf8", []byte("\x03\xe8a\xffb"), result{ErrCode: CloseInvalidPayload, ErrText: "UTF-8"}},
		{"truncated utf8", []byte("\x03\xe8a\xc3"), result{ErrCode: CloseInvalidPayload, ErrText: "UTF-8"}},
		{"surrogate", []byte("\x03\xe8\xed\xa0\x80"), result{ErrCode: CloseInvalidPayload, ErrText: "UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason, err := ParseClosePayload(tt.in)
			got := result{Code: code, Reason: string(reason)}
			if err != nil {
				var fe *Error
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *frame.Error", err)
				}
				got.ErrCode = fe.Code
				got.ErrText = tt.want.ErrText
				if !strings.Contains(fe.Reason, tt.want.ErrText) {
					got.ErrText = fe.Reason
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseClosePayload(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestAppendClosePayload(t *testing.T) {
	long := strings.Repeat("x", 200)
	// "é" is 2 bytes and "€" 3, "😀" 4: each case puts a rune across the
	// 123-byte limit so the cut has to back up.
	tests := []struct {
		name   string
		code   CloseCode
		reason string
		want   []byte
	}{
		{"no status", CloseNoStatus, "ignored", []byte{}},
		{"code only", CloseNormal, "", []byte{0x03, 0xe8}},
		{"reason", CloseAway, "bye", []byte("\x03\xe9bye")},
		{"private", 4321, "", []byte{0x10, 0xe1}},
		{"exactly 123", CloseNormal, long[:123], append([]byte{0x03, 0xe8}, long[:123]...)},
		{"ascii cut", CloseNormal, long, append([]byte{0x03, 0xe8}, long[:123]...)},
		{"2-byte rune across", CloseNormal, long[:122] + "é", append([]byte{0x03, 0xe8}, long[:122]...)},
		{"2-byte rune at end", CloseNormal, long[:121] + "éé", append([]byte{0x03, 0xe8}, long[:121]+"é"...)},
		{"3-byte rune across", CloseNormal, long[:121] + "€", append([]byte{0x03, 0xe8}, long[:121]...)},
		{"4-byte rune across", CloseNormal, long[:120] + "😀", append([]byte{0x03, 0xe8}, long[:120]...)},
		{"4-byte rune last fitting", CloseNormal, long[:119] + "😀😀", append([]byte{0x03, 0xe8}, long[:119]+"😀"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendClosePayload([]byte{}, tt.code, tt.reason)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AppendClosePayload(%d, %q) (-want +got):\n%s", tt.code, tt.reason, diff)
			}
			if len(got) > 125 || !utf8.Valid(got[min(len(got), 2):]) {
				t.Errorf("payload of %d bytes is not a valid close body", len(got))
			}
		})
	}
}

// TestClosePayloadRoundTrip checks that what AppendClosePayload writes,
// ParseClosePayload reads back, including a cut reason.
func TestClosePayloadRoundTrip(t *testing.T) {
	for _, code := range []CloseCode{CloseNormal, CloseAway, CloseBadGateway, 3000, 4999} {
		for _, reason := range []string{"", "bye", strings.Repeat("ü", 100)} {
			p := AppendClosePayload([]byte("prefix"), code, reason)
			if string(p[:6]) != "prefix" {
				t.Fatalf("AppendClosePayload clobbered dst: %q", p)
			}
			gotCode, gotReason, err := ParseClosePayload(p[6:])
			if err != nil {
				t.Fatalf("code %d reason %q: %v", code, reason, err)
			}
			if gotCode != code || !strings.HasPrefix(reason, string(gotReason)) || len(gotReason) < min(len(reason), 122) {
				t.Errorf("round trip of (%d, %q) gave (%d, %q)", code, reason, gotCode, gotReason)
			}
		}
	}
}
