package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"casefile/server/store/pgstore"
	"casefile/server/storetest"
)

// TestChannelOf: a schema's channel is its own and fits what pg_notify
// takes (63 bytes), however long the schema's name (PostgreSQL allows 63
// bytes there too); short names keep the channel they always had, so
// replicas of two builds still hear each other.
func TestChannelOf(t *testing.T) {
	if got := pgstore.ChannelOf("public"); got != "casefile_changes" {
		t.Errorf("public: %q", got)
	}
	if got := pgstore.ChannelOf("firm_a"); got != "casefile_changes_firm_a" {
		t.Errorf("firm_a: %q", got)
	}
	seen := map[string]string{}
	for n := 40; n <= 63; n++ {
		for _, c := range "ab" {
			schema := strings.Repeat(string(c), n)
			ch := pgstore.ChannelOf(schema)
			if len(ch) > 63 {
				t.Errorf("a %d-byte schema's channel is %d bytes: %q", n, len(ch), ch)
			}
			if other, ok := seen[ch]; ok {
				t.Errorf("schemas %q and %q share the channel %q", other, schema, ch)
			}
			seen[ch] = schema
			if again := pgstore.ChannelOf(schema); again != ch {
				t.Errorf("%q: %q, then %q", schema, ch, again)
			}
		}
	}
}

// TestLongSchemaName: a store whose schema's name is as long as
// PostgreSQL allows commits writes with hints, and a second store on the
// same schema (another replica) hears them. Such a schema's every push
// used to fail: its channel name was too long for pg_notify.
func TestLongSchemaName(t *testing.T) {
	sharesHints(t, storetest.PostgresURLIn(t, "test_long_"+strings.Repeat("x", 46)+"_"+randomTag())) // 63 bytes
}

// randomTag is six characters telling this run's schema from another's.
func randomTag() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestMissingSchema: a search_path naming no schema there is refused with
// the schema named, not with what creating a table in no schema says.
func TestMissingSchema(t *testing.T) {
	url := storetest.PostgresURL(t)
	url = strings.Replace(url, "search_path=test_", "search_path=nosuch_", 1)
	_, err := pgstore.Open(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "no schema the database URL's search_path names exists") || !strings.Contains(err.Error(), `"nosuch_`) {
		t.Fatalf("open on a missing schema: %v", err)
	}
}
