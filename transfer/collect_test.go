package transfer_test

import (
	"context"
	"testing"
)

// A matter lost drops its files from the device; a file a queued upload
// still needs is never collected, and goes once nothing needs it.
func TestCollectFiles(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	alice, bob := w.device("alice"), w.device("bob")
	data := randomData(t, 5000)
	att := alice.attach(w.matter, data, "a.txt")
	hash := alice.file(att.ID).SHA256

	// Queued, never sent: collection keeps it.
	if n, err := alice.engine.Collect(ctx); err != nil || n != 0 {
		t.Fatalf("collect with an upload queued: %d, %v", n, err)
	}
	alice.syncRecords()
	if _, err := alice.engine.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	bob.syncRecords()
	if sum, err := bob.engine.RunOnce(ctx); err != nil || sum.Downloaded != 1 {
		t.Fatalf("bob's download: %+v, %v", sum, err)
	}
	if ok, _ := bob.files.Has(hash); !ok {
		t.Fatal("bob has no copy")
	}

	// Bob loses the matter: its records leave his device, then its file.
	if err := w.srv.Revoke(ctx, "bob", w.matter); err != nil {
		t.Fatal(err)
	}
	bob.syncRecords()
	if sum, err := bob.engine.RunOnce(ctx); err != nil || sum.Collected != 1 {
		t.Fatalf("bob's pass after losing the matter: %+v, %v", sum, err)
	}
	if ok, _ := bob.files.Has(hash); ok {
		t.Fatal("a lost matter's file stayed on bob's device")
	}

	// Alice attaches another file and detaches it before it was sent:
	// while the upload is queued the bytes stay; the next pass drops the
	// transfer and the bytes.
	second := alice.attach(w.matter, randomData(t, 300), "b.txt")
	h2 := alice.file(second.ID).SHA256
	if err := alice.db.Delete(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := alice.engine.Collect(ctx); err != nil || n != 0 {
		t.Fatalf("collect while the upload is still queued: %d, %v", n, err)
	}
	if ok, _ := alice.files.Has(h2); !ok {
		t.Fatal("bytes a queued transfer needs were collected")
	}
	if sum, err := alice.engine.RunOnce(ctx); err != nil || sum.Collected != 1 {
		t.Fatalf("alice's pass after the detach: %+v, %v", sum, err)
	}
	if ok, _ := alice.files.Has(h2); ok {
		t.Fatal("a detached, never-sent file stayed")
	}
	if ok, _ := alice.files.Has(hash); !ok {
		t.Fatal("a file still attached was collected")
	}
}
