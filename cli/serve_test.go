package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"casefile/config"
	"casefile/server"
	"casefile/server/servertest"
)

// serveLog is a buffer the running server writes while the test reads.
type serveLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *serveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *serveLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runMain runs casefile with args and stdin and returns exit code, stdout
// and stderr.
func runMain(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--config", filepath.Join(t.TempDir(), "none.toml")}, args...)
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	matter := "0190f3a2-7c1e-7b3d-9f00-2a6c1d5e8b41"
	for _, c := range []struct {
		stdin    string
		args     []string
		code     int
		out, err string // substrings
	}{
		{"", []string{"admin", "--data", dir, "audit", "verify"}, 1, "", "no server database in"},
		{"s3cret\n", []string{"admin", "--data", dir, "user", "add", "alice", "--role", "admin"}, 0, "added alice (admin)", ""},
		{"s3cret\n", []string{"admin", "--data", dir, "user", "add", "bob"}, 0, "added bob (member)", ""},
		{"", []string{"admin", "--data", dir, "user", "add", "carol"}, 1, "", "the password is empty"},
		{"x\n", []string{"admin", "--data", dir, "user", "add", "alice"}, 1, "", "already exists: alice"},
		{"x\n", []string{"admin", "--data", dir, "user", "add", "dave", "--role", "boss"}, 1, "", `unknown role "boss"`},
		{"", []string{"admin", "--data", dir, "user", "list"}, 0, "alice  admin", ""},
		{"", []string{"admin", "--data", dir, "grant", "bob", matter}, 1, "", "no such matter: " + matter},
		{"", []string{"admin", "--data", dir, "grant", "nobody", matter}, 1, "", "no such user: nobody"},
		{"", []string{"admin", "--data", dir, "grant", "bob", "not-an-id"}, 1, "", `"not-an-id" is not a matter id`},
		{"", []string{"admin", "--data", dir, "revoke", "bob", matter}, 1, "", "bob is not a member of matter"},
		{"", []string{"admin", "--data", dir, "grant", "bob"}, 2, "", "usage: casefile admin grant NAME MATTER_ID"},
		{"", []string{"admin", "--data", dir, "tokens", "revoke", "bob", "--device", "phone"}, 0, "revoked 0 token(s) of bob", ""},
		{"", []string{"admin", "--data", dir, "tokens", "revoke", "nobody"}, 1, "", "no such user: nobody"},
		{"", []string{"admin", "--data", dir, "audit", "verify"}, 0, "audit log OK (3 rows)", ""},
		{"", []string{"admin", "--data", dir, "frob"}, 2, "", "unknown admin subcommand"},
		{"", []string{"admin", "--data", dir, "--database", "postgres://x", "user", "list"}, 2, "", "not both"},
		{"", []string{"admin", "--database", "mysql://x", "user", "list"}, 2, "", "postgres:// URL"},
	} {
		code, out, errs := runMain(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.err) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", c.args, code, out, errs, c.code, c.out, c.err)
		}
		if code == 1 && strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: stderr is more than one sentence: %q", c.args, errs)
		}
	}
}

func TestLoginCommand(t *testing.T) {
	srv := servertest.Start(t)
	if err := srv.AddUser(context.Background(), "alice", "s3cret", server.RoleMember); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	code, _, errs := runMain(t, "wrong\n", "--data", data, "login", "--server", srv.URL, "--user", "alice")
	if code != 1 || !strings.Contains(errs, "The user name or password is wrong.") {
		t.Fatalf("wrong password: exit %d, %q", code, errs)
	}
	if _, err := config.LoadCredentials(data); err != config.ErrNoCredentials {
		t.Fatalf("a refused login saved credentials: %v", err)
	}
	code, out, errs := runMain(t, "s3cret\n", "--data", data, "login", "--server", srv.URL+"/", "--user", "alice", "--device", "laptop")
	if code != 0 || !strings.Contains(out, "logged in to "+srv.URL+" as alice") {
		t.Fatalf("login: exit %d, %q, %q", code, out, errs)
	}
	creds, err := config.LoadCredentials(data)
	if err != nil || creds.Server != srv.URL || creds.User != "alice" || creds.Device != "laptop" || creds.Token == "" {
		t.Fatalf("saved credentials = %+v, %v", creds, err)
	}
	if fi, err := os.Stat(config.CredentialsPath(data)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode: %v %v", fi.Mode(), err)
	}
	c := &servertest.Client{URL: creds.Server, Token: creds.Token, HTTP: http.DefaultClient}
	if _, err := c.Pull(context.Background(), 0, 0); err != nil {
		t.Fatalf("the saved token does not work: %v", err)
	}
	for _, args := range [][]string{
		{"login", "--server", "ftp://x", "--user", "a"},
		{"login", "--server", srv.URL},
		{"login", "--server", srv.URL, "--user", "a", "extra"},
	} {
		if code, _, _ := runMain(t, "pw\n", append([]string{"--data", t.TempDir()}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestServeCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	var stderr serveLog
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	re := regexp.MustCompile(`casefile server listening on (http://127\.0\.0\.1:\d+) \(store: sqlite (.*)\)\n`)
	var m []string
	for m == nil {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
			m = re.FindStringSubmatch(stderr.String())
		}
	}
	if m[2] != filepath.Join(dir, "server.db") {
		t.Errorf("store %q, want %q", m[2], filepath.Join(dir, "server.db"))
	}
	resp, err := http.Get(m[1] + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if code := <-done; code != 0 || !strings.Contains(stderr.String(), "casefile server stopped") {
		t.Fatalf("serve after cancel: exit %d, %s", code, stderr.String())
	}
	for _, args := range [][]string{
		{"serve", "extra"},
		{"serve", "--retention", "-1h"},
		{"serve", "--data", dir, "--database", "postgres://x"},
		{"serve", "--log-level", "loud"},
	} {
		if code, _, _ := runMain(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := runMain(t, "", "serve", "--addr", "256.0.0.1:1", "--data", dir); code != 1 || !strings.Contains(errs, "cannot listen on 256.0.0.1:1") {
		t.Errorf("bad address: exit %d, %q", code, errs)
	}
}
