package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
	"casefile/server"
)

// TestBinaryRestoreOntoANewDevice is the restore end to end with the real
// binary as separate processes and a real server: a device adds records,
// syncs and exports them; a new device (a fresh data directory) imports
// the backup, logs in and syncs with 0 failures and exit 0, and holds the
// server's records; importing the backup again there skips every record.
func TestBinaryRestoreOntoANewDevice(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	tmp := t.TempDir()
	srv := startServer(t)
	alice := srv.NewUser(t, "alice", server.RoleMember)
	run := func(data string, args ...string) (string, string, int) {
		t.Helper()
		return runBinary(t, bin, data, args...)
	}
	must := func(data string, args ...string) string {
		t.Helper()
		out, stderr, code := run(data, args...)
		if code != 0 {
			t.Fatalf("casefile %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
		}
		return out
	}
	login := func(data, device string) {
		if err := os.MkdirAll(data, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := config.SaveCredentials(data, config.Credentials{Server: srv.URL, User: "alice", Device: device, Token: alice.Token}); err != nil {
			t.Fatal(err)
		}
	}

	old := filepath.Join(tmp, "old-laptop")
	login(old, "old")
	matter := strings.TrimSpace(must(old, "add", "matter", "title=Smith v Jones"))
	for _, title := range []string{"First meeting", "Call the insurer", "Site visit notes"} {
		must(old, "add", "note", "matter_id="+matter, "title="+title)
	}
	must(old, "add", "hearing", "matter_id="+matter, "title=Directions", "starts_at=2026-12-15T09:30:00Z")
	must(old, "sync")
	backup := filepath.Join(tmp, "backup.jsonl")
	must(old, "export", "--out", backup)

	laptop := filepath.Join(tmp, "new-laptop")
	_, stderr, code := run(laptop, "import", "--file", backup)
	if code != 0 || !strings.Contains(stderr, "Imported 5 records") {
		t.Fatalf("import on the new laptop: exit %d, %s", code, stderr)
	}
	login(laptop, "new")
	out, stderr, code := run(laptop, "sync")
	if code != 0 || !strings.Contains(out, "conflicts 0, failed 0") {
		t.Fatalf("sync of the restored backup: exit %d\n%s%s", code, out, stderr)
	}
	var st statusReport
	if err := json.Unmarshal([]byte(must(laptop, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Synced != 5 || st.Failed != 0 || st.Outbox != 0 || st.Conflicts != 0 {
		t.Fatalf("status of the new laptop = %+v", st)
	}
	_, stderr, code = run(laptop, "import", "--file", backup)
	if code != 0 || !strings.Contains(stderr, "skipped 5 records already here with the same values") {
		t.Fatalf("the backup imported again: exit %d, %s", code, stderr)
	}
}
