package server

import (
	"reflect"
	"slices"
	"testing"

	"casefile/protocol"
)

// jsonKeys are a struct type's JSON keys with their options, in order.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		keys = append(keys, t.Field(i).Tag.Get("json"))
	}
	return keys
}

// TestPullWireFormsFollowTheProtocol: the pull's wire forms carry the keys
// of protocol.PullResponse and protocol.Record, in their order, so that a
// key added to the protocol cannot go missing from the answer.
func TestPullWireFormsFollowTheProtocol(t *testing.T) {
	for _, c := range []struct{ wire, proto reflect.Type }{
		{reflect.TypeFor[pullAnswer](), reflect.TypeFor[protocol.PullResponse]()},
		{reflect.TypeFor[pulledRecord](), reflect.TypeFor[protocol.Record]()},
	} {
		if got, want := jsonKeys(c.wire), jsonKeys(c.proto); !slices.Equal(got, want) {
			t.Errorf("%s keys %q, %s keys %q", c.wire, got, c.proto, want)
		}
	}
}
