package cli

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"casefile/config"
	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/store/pgstore"
	"casefile/server/storetest"
)

// serveLog is a buffer safe to read while a command writes.
type serveLog = servertest.SyncBuffer

// runMain runs casefile with args and stdin and returns exit code, stdout
// and stderr.
func runMain(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--config", os.DevNull}, args...)
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
		{"s3cret-enough\n", []string{"admin", "--data", dir, "user", "add", "alice", "--role", "admin"}, 0, "added alice (admin)", ""},
		{"s3cret-enough\n", []string{"admin", "--data", dir, "user", "add", "bob"}, 0, "added bob (member)", ""},
		{"", []string{"admin", "--data", dir, "user", "add", "carol"}, 1, "", "the password is empty"},
		{"another-secret\n", []string{"admin", "--data", dir, "user", "add", "alice"}, 1, "", "already exists: alice"},
		{"another-secret\n", []string{"admin", "--data", dir, "user", "add", "Alice"}, 1, "", "already exists: Alice (as alice;"},
		{"another-secret\n", []string{"admin", "--data", dir, "user", "add", "dave", "--role", "boss"}, 1, "", `unknown role "boss"`},
		{"x\n", []string{"admin", "--data", dir, "user", "add", "erin"}, 1, "", "the password has fewer than 8 characters"},
		{"password1\n", []string{"admin", "--data", dir, "user", "add", "erin"}, 1, "", "one of the most common passwords"},
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
		{"", []string{"admin", "--data", dir, "frob"}, 2, "", "devices, devices revoke, audit verify"},
		{"", []string{"admin", "--data", dir, "devices", "revoke", "nobody", "x"}, 1, "", "no such user: nobody"},
		{"", []string{"admin", "--data", dir, "devices", "revoke", "bob", "x"}, 1, "", `user "bob" has no device "x"`},
		{"", []string{"admin", "--data", dir, "devices", "alice", "extra"}, 2, "", "usage: casefile admin devices NAME"},
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

// TestAdminFindsNoStoreInAnotherDatabase: with --database naming a
// database that holds no Casefile store, only user add creates one;
// anything else says so and leaves the database as it was.
func TestAdminFindsNoStoreInAnotherDatabase(t *testing.T) {
	url := storetest.PostgresURL(t)
	for _, args := range [][]string{{"user", "list"}, {"audit", "verify"}, {"tokens", "revoke", "bob"}} {
		code, _, errs := runMain(t, "", append([]string{"admin", "--database", url}, args...)...)
		if code != 1 || !strings.Contains(errs, "no casefile server database at the --database URL") {
			t.Errorf("admin %v on an empty database: exit %d, %q", args, code, errs)
		}
	}
	if found, err := pgstore.Exists(context.Background(), url); err != nil || found {
		t.Fatalf("a refused admin command made a store: %v, %v", found, err)
	}
	if code, _, errs := runMain(t, "s3cret-enough\n", "admin", "--database", url, "user", "add", "alice"); code != 0 {
		t.Fatalf("user add: exit %d, %q", code, errs)
	}
	if code, out, errs := runMain(t, "", "admin", "--database", url, "user", "list"); code != 0 || !strings.Contains(out, "alice") {
		t.Fatalf("user list after user add: exit %d, %q, %q", code, out, errs)
	}
}

func TestLoginCommand(t *testing.T) {
	srv := servertest.Start(t)
	if err := srv.AddUser(context.Background(), "alice", "s3cret-enough", server.RoleMember); err != nil {
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
	code, out, errs := runMain(t, "s3cret-enough\n", "--data", data, "login", "--server", srv.URL+"/", "--user", "alice", "--device", "laptop")
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
	// Another user is not logged in on alice's data directory; alice
	// again (a new token) is.
	if err := srv.AddUser(context.Background(), "bob", "s3cret-enough", server.RoleMember); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runMain(t, "s3cret-enough\n", "--data", data, "login", "--server", srv.URL, "--user", "bob")
	if code != 1 || !strings.Contains(errs, "this data directory holds alice's work") || !strings.Contains(errs, "--data DIR") {
		t.Fatalf("bob's login on alice's data directory: exit %d, %q", code, errs)
	}
	if again, err := config.LoadCredentials(data); err != nil || again != creds {
		t.Fatalf("a refused login changed the credentials: %+v, %v", again, err)
	}
	if code, _, errs := runMain(t, "s3cret-enough\n", "--data", data, "login", "--server", srv.URL, "--user", "alice", "--device", "laptop"); code != 0 {
		t.Fatalf("alice's login again: exit %d, %q", code, errs)
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
		done <- Main(ctx, []string{"--config", os.DevNull, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn"},
			strings.NewReader(""), &bytes.Buffer{}, &stderr)
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
	// A second server on the same SQLite store is refused, while the
	// admin commands still work beside the first.
	// (Bounded: a second server that did start would serve until its
	// context ends.)
	second, stop := context.WithTimeout(ctx, 10*time.Second)
	var errs2 bytes.Buffer
	code2 := Main(second, []string{"--config", os.DevNull, "serve", "--addr", "127.0.0.1:0", "--data", dir}, strings.NewReader(""), &bytes.Buffer{}, &errs2)
	stop()
	if code2 != 1 || !strings.Contains(errs2.String(), "another casefile serve is running on "+dir) {
		t.Errorf("a second serve on the same data directory: exit %d, %q", code2, errs2.String())
	}
	if code, _, errs := runMain(t, "", "admin", "--data", dir, "audit", "verify"); code != 0 {
		t.Errorf("admin beside a running serve: exit %d, %q", code, errs)
	}
	cancel()
	if code := <-done; code != 0 || !strings.Contains(stderr.String(), "casefile server stopped") {
		t.Fatalf("serve after cancel: exit %d, %s", code, stderr.String())
	}
	for _, args := range [][]string{
		{"serve", "extra"},
		{"serve", "--retention", "-1h"},
		{"serve", "--data", dir, "--database", "postgres://x"},
		{"serve", "--log-level", "loud"},
		{"serve", "--rate-limit", "NaN"},
		{"serve", "--rate-limit", "+Inf"},
	} {
		if code, _, _ := runMain(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := runMain(t, "", "serve", "--addr", "256.0.0.1:1", "--data", dir); code != 1 || !strings.Contains(errs, "cannot listen on 256.0.0.1:1") {
		t.Errorf("bad address: exit %d, %q", code, errs)
	}
}

// startServe runs casefile with args until ctx ends and waits for its
// stderr to match re; it returns the match, the exit code's channel and
// stderr.
func startServe(t *testing.T, ctx context.Context, re *regexp.Regexp, args ...string) ([]string, <-chan int, *serveLog) {
	t.Helper()
	stderr := &serveLog{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, args, strings.NewReader(""), &bytes.Buffer{}, stderr)
	}()
	for {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
			if m := re.FindStringSubmatch(stderr.String()); m != nil {
				return m, done, stderr
			}
		}
	}
}

// getStatus GETs url with a bearer token ("" for none) and returns the
// status and body.
func getStatus(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestServeMetricsListen: --metrics-listen beats metrics_listen in the
// config file, the token comes from the file, and stopping the server
// closes the metrics port.
func TestServeMetricsListen(t *testing.T) {
	t.Parallel()
	const token = "7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e"
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("metrics_listen = \"256.0.0.1:1\"\nmetrics_token = \""+token+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) .*\n` + `casefile server metrics on (http://(127\.0\.0\.1:\d+))/metrics\n`)
	m, done, stderr := startServe(t, ctx, re, "--config", cfg, "serve", "--addr", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--data", t.TempDir(), "--log-level", "debug")
	api, metrics, metricsAddr := m[1], m[2], m[3]

	if code, body := getStatus(t, api+"/metrics", token); code != http.StatusNotFound || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("API listener /metrics: %d %s, want 404 not_found", code, body)
	}
	if code, body := getStatus(t, metrics+"/healthz", ""); code != http.StatusNotFound {
		t.Errorf("metrics listener /healthz: %d %s, want 404", code, body)
	}
	if code, body := getStatus(t, metrics+"/metrics", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Errorf("/metrics without the token: %d %s, want 401 unauthorized", code, body)
	}
	if code, body := getStatus(t, metrics+"/metrics", token); code != http.StatusOK || !strings.Contains(body, "casefile_head ") {
		t.Errorf("/metrics with the token: %d %s", code, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve after cancel: exit %d, %s", code, stderr.String())
	}
	if c, err := net.Dial("tcp", metricsAddr); err == nil {
		c.Close()
		t.Error("the metrics port is open after serve stopped")
	}
	if strings.Contains(stderr.String(), token) {
		t.Errorf("serve logged the metrics token: %s", stderr.String())
	}
}

// TestServeMetricsOnAPIListener: --metrics-listen "" puts /metrics back
// on --addr, behind a token from the environment.
func TestServeMetricsOnAPIListener(t *testing.T) {
	const token = "from-the-env-0123456789"
	t.Setenv("CASEFILE_METRICS_TOKEN", token)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("metrics_listen = \"256.0.0.1:1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) .*\n`)
	m, done, stderr := startServe(t, ctx, re, "--config", cfg, "serve", "--addr", "127.0.0.1:0", "--metrics-listen=",
		"--data", t.TempDir(), "--log-level", "warn")
	if code, body := getStatus(t, m[1]+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d %s, want 401", code, body)
	}
	if code, body := getStatus(t, m[1]+"/metrics", token); code != http.StatusOK {
		t.Errorf("/metrics with the token: %d %s", code, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve after cancel: exit %d, %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "metrics on") || strings.Contains(stderr.String(), token) {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func TestServeMetricsMistakes(t *testing.T) {
	dir := t.TempDir()
	cfg := func(body string) string {
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, c := range []struct {
		env  string // NAME=value, or ""
		args []string
		code int
		err  string
	}{
		{"", []string{"serve", "--metrics-listen", "nowhere"}, 2, `--metrics-listen: not a HOST:PORT address (like 127.0.0.1:9750): "nowhere"`},
		{"", []string{"serve", "--metrics-listen", "127.0.0.1:99999"}, 2, "--metrics-listen: the port must be a number from 0 to 65535"},
		{"", []string{"serve", "--addr", "127.0.0.1:0", "--metrics-listen", "256.0.0.1:1", "--data", dir}, 1, "cannot listen for metrics on 256.0.0.1:1: "},
		{"CASEFILE_METRICS_LISTEN=nowhere", []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, 1, "CASEFILE_METRICS_LISTEN: not a HOST:PORT address"},
		{"", []string{"--config", cfg(`metrics_listen = "nowhere"`), "serve", "--addr", "127.0.0.1:0", "--data", dir}, 1, `metrics_listen: not a HOST:PORT address`},
		{"", []string{"--config", cfg(`metrics_token = "hunter2"`), "serve", "--addr", "127.0.0.1:0", "--data", dir}, 1, "metrics_token: must be 16 to 256 characters long"},
	} {
		t.Run(c.err, func(t *testing.T) {
			if name, value, ok := strings.Cut(c.env, "="); ok {
				t.Setenv(name, value)
			}
			code, _, errs := runMain(t, "", c.args...)
			if code != c.code || !strings.Contains(errs, c.err) || strings.Contains(errs, "hunter2") {
				t.Errorf("%s %v: exit %d, %q; want exit %d, %q", c.env, c.args, code, errs, c.code, c.err)
			}
		})
	}
}

// TestNamedConfigMustExist: a config file named by --config or
// $CASEFILE_CONFIG that cannot be read stops the server (and any other
// command) instead of starting it with none of its settings.
func TestNamedConfigMustExist(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo.toml")
	want := "read config " + missing + ": the file does not exist"
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		return code, errb.String()
	}
	if code, errs := run("--config", missing, "serve", "--addr", "127.0.0.1:0", "--data", dir); code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("serve --config typo: exit %d, stderr %q; want 1 and %q", code, errs, want)
	}
	if code, errs := run("--config", missing, "--data", dir, "status"); code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("status --config typo: exit %d, stderr %q", code, errs)
	}
	t.Setenv(config.EnvConfig, missing)
	if code, errs := run("serve", "--addr", "127.0.0.1:0", "--data", dir); code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("serve with %s typo: exit %d, stderr %q", config.EnvConfig, code, errs)
	}
}

// TestPasswordFromDevNull: /dev/null on stdin is a character device but
// no terminal: the password is read from it (empty, refused), with no
// prompt and no wait.
func TestPasswordFromDevNull(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"--config", os.DevNull, "admin", "--data", t.TempDir(), "user", "add", "carol"}, null, &out, &errb)
	if code != 1 || errb.String() != "casefile admin: the password is empty: write it on stdin, one line\n" {
		t.Fatalf("user add with /dev/null on stdin: exit %d, %q", code, errb.String())
	}
}

// TestEmptyGlobalPathsAreRefused: --data "" or --config "" is refused
// rather than read as the default directory or file.
func TestEmptyGlobalPathsAreRefused(t *testing.T) {
	for _, flagName := range []string{"--data", "--config"} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{flagName, "", "status"}, strings.NewReader(""), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), flagName+" is empty") {
			t.Errorf("%s \"\": exit %d, %q", flagName, code, errb.String())
		}
	}
}

// TestDeviceAndServerDirsKeptApart: a device's data directory is refused
// as a server's and a server's as a device's, before either writes to
// it: both keep files in a files directory, so each would take the
// other's for its own.
func TestDeviceAndServerDirsKeptApart(t *testing.T) {
	t.Setenv(EnvPassphrase, "a passphrase long enough")
	device, srv := t.TempDir(), t.TempDir()
	if code, _, errs := runMain(t, "", "--data", device, "init"); code != 0 {
		t.Fatalf("init: exit %d, %q", code, errs)
	}
	if code, _, errs := runMain(t, "s3cret-enough\n", "admin", "--data", srv, "user", "add", "alice"); code != 0 {
		t.Fatalf("user add: exit %d, %q", code, errs)
	}
	listing := func(dir string) string {
		t.Helper()
		var names []string
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			names = append(names, path+" "+info.ModTime().String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(names, "\n")
	}
	deviceBefore, srvBefore := listing(device), listing(srv)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--data", device, "--addr", "127.0.0.1:0"}, "is a device's data directory (it holds casefile.db)"},
		{[]string{"admin", "--data", device, "user", "list"}, "is a device's data directory"},
		{[]string{"--data", srv, "status"}, "is a casefile server's data directory (it holds server.db)"},
		{[]string{"--data", srv, "add", "matter", "title=M"}, "is a casefile server's data directory"},
		{[]string{"--data", srv, "init"}, "is a casefile server's data directory"},
	} {
		// Bounded: a serve that was not refused would run until stopped.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"--config", os.DevNull}, c.args...), strings.NewReader(""), &out, &errb)
		cancel()
		errs := errb.String()
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, %q; want exit 1 and %q in one line", c.args, code, errs, c.want)
		}
	}
	if listing(device) != deviceBefore || listing(srv) != srvBefore {
		t.Errorf("a refused command changed a data directory:\n%s\n%s\nwas\n%s\n%s", listing(device), listing(srv), deviceBefore, srvBefore)
	}
}

// TestAuditVerifyReadsOnly: admin audit verify on a SQLite store reads it
// as it is, writing nothing beside it or in it, and refuses a layout older
// than this build's in a sentence instead of bringing it up to date.
func TestAuditVerifyReadsOnly(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runMain(t, "s3cret-enough\n", "admin", "--data", dir, "user", "add", "alice"); code != 0 {
		t.Fatalf("user add: exit %d, %q", code, errs)
	}
	path := filepath.Join(dir, "server.db")
	state := func() string {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, e := range entries {
			b.WriteString(e.Name() + "\n")
		}
		db, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b.String() + string(db)
	}
	before := state()
	code, out, errs := runMain(t, "", "admin", "--data", dir, "audit", "verify")
	if code != 0 || out != "audit log OK (1 rows)\n" {
		t.Fatalf("audit verify: exit %d, %q, %q", code, out, errs)
	}
	if state() != before {
		t.Fatalf("audit verify changed the data directory or its database")
	}

	// An older layout: the last change this build would apply is undone.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before = state()
	code, _, errs = runMain(t, "", "admin", "--data", dir, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "has an older layout than this casefile's (1 changes to apply); open it once with write access") {
		t.Fatalf("audit verify of an older layout: exit %d, %q", code, errs)
	}
	if state() != before {
		t.Fatalf("a refused audit verify changed the data directory or its database")
	}
}
