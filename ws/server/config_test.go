package server

import (
	"reflect"
	"strings"
	"testing"

	"unievent.dev/ws"
)

// Every size and count limit a user sets is an int, so that one value
// (a constant, a flag) fits any of them without conversions.
func TestSizeLimitsAreInts(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[ws.Config](), reflect.TypeFor[Config](), reflect.TypeFor[HTTPConfig]()} {
		for f := range typ.Fields() {
			if f.Anonymous {
				continue
			}
			limit := strings.HasPrefix(f.Name, "Max") || strings.HasSuffix(f.Name, "Size") || strings.HasSuffix(f.Name, "Limit") || strings.HasSuffix(f.Name, "Bytes")
			if limit && f.Type.Kind() != reflect.Int {
				t.Errorf("%s.%s is %s, want int", typ.Name(), f.Name, f.Type)
			}
		}
	}
}
