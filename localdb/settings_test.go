package localdb

import (
	"path/filepath"
	"testing"
)

func TestWorkOfflineIsRememberedAcrossOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casefile.db")
	db := openAt(t, path)
	if on, err := db.WorkOffline(bg); err != nil || on {
		t.Fatalf("a new database works offline: %v %v", on, err)
	}
	if err := db.SetMeta(bg, metaCursor, "42"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWorkOffline(bg, true); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openAt(t, path)
	if on, err := db.WorkOffline(bg); err != nil || !on {
		t.Fatalf("after a restart work offline is %v (%v), want on", on, err)
	}
	if err := db.SetWorkOffline(bg, false); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openAt(t, path)
	if on, err := db.WorkOffline(bg); err != nil || on {
		t.Fatalf("after turning it off and a restart work offline is %v (%v)", on, err)
	}
	if c, _ := db.Meta(bg, metaCursor); c != "42" {
		t.Fatalf("the setting touched the pull cursor: %q", c)
	}
}
