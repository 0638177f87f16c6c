package config

import (
	"casefile/model"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) string { return "" }

func TestLoadMissingFileGivesDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "config.toml")
	cfg, warnings, err := LoadEnv(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings = %q", warnings)
	}
	want := Default()
	want.Path = path
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("cfg = %+v, want %+v", cfg, want)
	}
	if cfg.SyncInterval != 30*time.Second || cfg.RequestTimeout != time.Minute || cfg.BatchSize != 500 || cfg.Theme != "auto" || cfg.LogLevel != "info" {
		t.Fatalf("defaults changed: %+v", cfg)
	}
}

func TestLoadEveryKey(t *testing.T) {
	path := writeFile(t, `
server = "https://cases.example.org/"
data_dir = "/srv/casefile"
theme = "light"
sync_interval = "2m"
request_timeout = "5m"
batch_size = 250
log_level = "DEBUG"
metrics_listen = "127.0.0.1:9750"
metrics_token = "  7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e  "
time_zone = "Europe/Paris"
date_order = "mdy"

[keys]
quit = ["q", "ctrl+c"]
search = "/"
`)
	cfg, warnings, err := LoadEnv(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings = %q", warnings)
	}
	want := Config{
		Path:           path,
		Server:         "https://cases.example.org",
		DataDir:        "/srv/casefile",
		Theme:          "light",
		SyncInterval:   2 * time.Minute,
		RequestTimeout: 5 * time.Minute,
		BatchSize:      250,
		LogLevel:       "debug",
		Keys:           map[string][]string{"quit": {"q", "ctrl+c"}, "search": {"/"}},
		MetricsListen:  "127.0.0.1:9750",
		MetricsToken:   "7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e",
		TimeZone:       "Europe/Paris",
		DateOrder:      model.MDY,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("cfg = %+v\nwant %+v", cfg, want)
	}
}

func TestUnknownKeyWarns(t *testing.T) {
	path := writeFile(t, "sevrer = \"http://x\"\ncolour = 3\ntheme = \"dark\"\n")
	cfg, warnings, err := LoadEnv(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Theme != "dark" {
		t.Fatalf("known key lost next to unknown ones: theme = %q", cfg.Theme)
	}
	if len(warnings) != 2 {
		t.Fatalf("warnings = %q, want 2", warnings)
	}
	if !strings.Contains(warnings[1], `unknown key "sevrer" (ignored)`) || !strings.Contains(warnings[1], `did you mean "server"?`) {
		t.Fatalf("warning = %q", warnings[1])
	}
	if !strings.Contains(warnings[0], `unknown key "colour" (ignored)`) || strings.Contains(warnings[0], "did you mean") {
		t.Fatalf("warning = %q", warnings[0])
	}
	if !strings.HasPrefix(warnings[0], path+": ") {
		t.Fatalf("warning does not name the file: %q", warnings[0])
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	cases := []struct {
		body, want string
	}{
		{`sync_interval = "soon"`, `sync_interval: not a duration (like 30s, 5m or 1h): "soon"`},
		{`sync_interval = "1ms"`, `sync_interval: must be between 1s and 24h0m0s`},
		{`sync_interval = 30`, `sync_interval: must be a string, not a number`},
		{`request_timeout = "1s"`, `request_timeout: must be between 5s and 30m0s, not 1s`},
		{`time_zone = "Mars/Olympus"`, `time_zone: unknown time zone "Mars/Olympus"`},
		{`date_order = "YMD"`, `date_order: date order "YMD": use DMY`},
		{`request_timeout = "forever"`, `request_timeout: not a duration (like 30s, 5m or 1h): "forever"`},
		{`batch_size = "many"`, `batch_size: must be a whole number, not a string`},
		{`batch_size = 1e3`, `batch_size: must be a whole number, not a number with a fraction or an exponent (1000)`},
		{`batch_size = 0`, `batch_size: must be between 1 and 500, not 0`},
		{`batch_size = 501`, `batch_size: must be between 1 and 500, not 501`},
		{`theme = "neon"`, `theme: "neon" is not one of: auto, dark, light`},
		{`log_level = "loud"`, `log_level: "loud" is not one of: debug, info, warn, error`},
		{`server = "cases.example.org"`, `server: not an http or https URL: "cases.example.org"`},
		{`server = "ftp://cases.example.org"`, `server: not an http or https URL`},
		{"[keys]\nquit = 3", `keys: quit: must be a key or a list of keys, not a number`},
		{"[keys]\nquit = [\"q\", 1]", `keys: quit: keys must be strings, found a number`},
		{"[keys]\nquit = [\"\"]", `keys: quit: a key cannot be empty`},
		{"[keys]\nquit = []", `keys: quit: name at least one key`},
		{`keys = "q"`, `keys: must be a table`},
		{"theme = \"dark\"\ntheme = \"light\"", `line 2`},
		{"server = ", `line 1`},
		{`metrics_listen = "9750"`, `metrics_listen: not a HOST:PORT address (like 127.0.0.1:9750): "9750"`},
		{`metrics_listen = "http://127.0.0.1:9750"`, `metrics_listen: not a HOST:PORT address`},
		{`metrics_listen = "127.0.0.1:metrics"`, `metrics_listen: the port must be a number from 0 to 65535: "127.0.0.1:metrics"`},
		{`metrics_listen = "127.0.0.1:65536"`, `metrics_listen: the port must be a number from 0 to 65535`},
		{`metrics_listen = 9750`, `metrics_listen: must be a string, not a number`},
		{`metrics_token = "hunter2"`, `metrics_token: must be 16 to 256 characters long (e.g.`},
		{`metrics_token = "` + strings.Repeat("x", 257) + `"`, `metrics_token: must be 16 to 256 characters long`},
		{`metrics_token = "correct horse battery staple"`, `metrics_token: must be printable ASCII without spaces`},
		{`metrics_token = "7f3c9a1e5b2d4f6a8c0é"`, `metrics_token: must be printable ASCII without spaces`},
	}
	for _, tc := range cases {
		path := writeFile(t, tc.body)
		_, _, err := LoadEnv(path, noEnv)
		if err == nil {
			t.Errorf("%q: no error", tc.body)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("%q: error %q, want it to name the file and contain %q", tc.body, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "horse") {
			t.Errorf("%q: error %q quotes the metrics token", tc.body, err)
		}
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := writeFile(t, `
server = "http://file.example"
data_dir = "/from/file"
theme = "dark"
sync_interval = "1m"
metrics_listen = "127.0.0.1:9750"
metrics_token = "from-the-file-0123456789"
`)
	env := map[string]string{
		EnvServer:         "http://127.0.0.1:9000",
		EnvData:           "/from/env",
		EnvTheme:          "light",
		EnvSyncInterval:   "5s",
		EnvRequestTimeout: "90s",
		EnvMetricsListen:  "[::1]:9751",
		EnvMetricsToken:   "from-the-env-0123456789",
		EnvTimeZone:       "Europe/Paris",
		EnvDateOrder:      "mdy",
	}
	cfg, _, err := LoadEnv(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "http://127.0.0.1:9000" || cfg.DataDir != "/from/env" || cfg.Theme != "light" || cfg.SyncInterval != 5*time.Second ||
		cfg.RequestTimeout != 90*time.Second {
		t.Fatalf("env did not override: %+v", cfg)
	}
	if cfg.MetricsListen != "[::1]:9751" || cfg.MetricsToken != "from-the-env-0123456789" {
		t.Fatalf("env did not override the metrics keys: listen %q, token %q", cfg.MetricsListen, cfg.MetricsToken)
	}
	if cfg.TimeZone != "Europe/Paris" || cfg.DateOrder != model.MDY {
		t.Fatalf("env did not set the time zone and date order: %q, %q", cfg.TimeZone, cfg.DateOrder)
	}
}

// TestMetricsKeysDefaultOff: without the keys the server serves /metrics
// with the API, open, as before they existed.
func TestMetricsKeysDefaultOff(t *testing.T) {
	cfg, _, err := LoadEnv(writeFile(t, `theme = "dark"`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsListen != "" || cfg.MetricsToken != "" {
		t.Fatalf("metrics keys set by default: listen %q, token %q", cfg.MetricsListen, cfg.MetricsToken)
	}
	for _, addr := range []string{"127.0.0.1:0", ":9750", "localhost:9750", "[::1]:9750", " 10.0.0.5:9750 "} {
		if _, err := CheckListenAddr(addr); err != nil {
			t.Errorf("%q: %v", addr, err)
		}
	}
}

func TestBadEnvNamesTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		EnvServer:         "nowhere",
		EnvTheme:          "pink",
		EnvSyncInterval:   "often",
		EnvMetricsListen:  "localhost",
		EnvMetricsToken:   "short",
		EnvTimeZone:       "Mars/Olympus_Mons",
		EnvDateOrder:      "YMD",
		EnvRequestTimeout: "forever",
	} {
		_, _, err := LoadEnv(filepath.Join(t.TempDir(), "none.toml"), func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		if err == nil || !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s=%q: error %v, want one naming %s", name, value, err, name)
		}
	}
}

func TestUnreadableFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	_, _, err := LoadEnv(dir, noEnv) // a directory, not a file
	if err == nil || !strings.Contains(err.Error(), "read config "+dir) {
		t.Fatalf("err = %v", err)
	}
}

func TestDataDirTildeExpands(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	cfg, _, err := LoadEnv(writeFile(t, `data_dir = "~/cases"`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(home, "cases") {
		t.Fatalf("data_dir = %q", cfg.DataDir)
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	if got := DefaultDataDir(); got != "/xdg/data/casefile" {
		t.Fatalf("with XDG_DATA_HOME: %q", got)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if got := DefaultDataDir(); got != "/home/someone/.local/share/casefile" {
		t.Fatalf("without XDG_DATA_HOME: %q", got)
	}
	if got := DBPath("/d"); got != "/d/casefile.db" {
		t.Fatalf("DBPath = %q", got)
	}
	if got := LogPath("/d"); got != "/d/casefile.log" {
		t.Fatalf("LogPath = %q", got)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/xdg/config")
	if got := DefaultPath(); got != "/xdg/config/casefile/config.toml" {
		t.Fatalf("DefaultPath = %q", got)
	}
}

// A file the user named must exist: a typo in --config must not start a
// server without its settings.
func TestNamedFileMustExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo.toml")
	if _, _, err := LoadNamed(missing, noEnv); err == nil || !strings.Contains(err.Error(), "read config "+missing+": the file does not exist") {
		t.Fatalf("named missing file: %v", err)
	}
	if _, _, err := LoadNamed(t.TempDir(), noEnv); err == nil || !strings.Contains(err.Error(), "read config ") {
		t.Fatalf("named directory: %v", err)
	}
	cfg, _, err := LoadNamed(writeFile(t, `theme = "dark"`), noEnv)
	if err != nil || cfg.Theme != "dark" {
		t.Fatalf("named file: %+v, %v", cfg, err)
	}
	if _, _, err := LoadEnv(missing, noEnv); err != nil {
		t.Fatalf("a missing default file means the defaults: %v", err)
	}
}

func TestDropFolderSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte("drop_folder = \"~/Inbox\"\ndrop_keep_originals = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := LoadEnv(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	if c.ResolvedDropFolder() != filepath.Join(home, "Inbox") || !c.DropKeepOriginals {
		t.Fatalf("drop folder %q, keep %v", c.ResolvedDropFolder(), c.DropKeepOriginals)
	}
	if err := os.WriteFile(path, []byte("drop_folder = \"off\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _, _ = LoadEnv(path, func(string) string { return "" }); c.ResolvedDropFolder() != "" {
		t.Fatalf("drop_folder = off resolves to %q", c.ResolvedDropFolder())
	}
	if err := os.WriteFile(path, []byte("drop_keep_originals = \"yes\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadEnv(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "true or false") {
		t.Fatalf("a string for a bool: %v", err)
	}
}

// TestFileDirsMustBeAbsolute: a relative data_dir or drop_folder in the
// file would be read against whatever directory a command runs in (the
// data seeming gone when run from another), and "~bob/x" used to make a
// directory named "~bob" there: both are refused, naming the key. The
// environment keeps a relative path relative to the working directory,
// as shells expect.
func TestFileDirsMustBeAbsolute(t *testing.T) {
	for _, tc := range []struct{ body, key, want string }{
		{`data_dir = "rel/dir"`, "data_dir", "relative path"},
		{`data_dir = "./here"`, "data_dir", "relative path"},
		{`data_dir = "~bob/x"`, "data_dir", "another user's home"},
		{`drop_folder = "Inbox"`, "drop_folder", "relative path"},
		{`drop_folder = "~bob/Inbox"`, "drop_folder", "another user's home"},
	} {
		path := writeFile(t, tc.body)
		_, _, err := LoadEnv(path, noEnv)
		if err == nil || !strings.Contains(err.Error(), path+": "+tc.key+": ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming the key and saying %q", tc.body, err, tc.want)
		}
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvData {
				return v
			}
			return ""
		}
	}
	cfg, _, err := LoadEnv(filepath.Join(t.TempDir(), "none.toml"), env("rel/dir"))
	if err != nil || cfg.DataDir != "rel/dir" {
		t.Errorf("%s=rel/dir: %q, %v; want it kept relative to the working directory", EnvData, cfg.DataDir, err)
	}
	if _, _, err := LoadEnv(filepath.Join(t.TempDir(), "none.toml"), env("~bob/x")); err == nil || !strings.HasPrefix(err.Error(), EnvData+": ") {
		t.Errorf("%s=~bob/x: err = %v, want it refused naming the variable", EnvData, err)
	}
}

// TestServerPortInRange: a port outside 1–65535 parses as a URL but can
// never be dialled; it is refused where it is written.
func TestServerPortInRange(t *testing.T) {
	for _, s := range []string{"http://host:99999", "https://host:0", "http://[::1]:65536"} {
		path := writeFile(t, `server = "`+s+`"`)
		_, _, err := LoadEnv(path, noEnv)
		if err == nil || !strings.Contains(err.Error(), path+": server: ") || !strings.Contains(err.Error(), "1 to 65535") {
			t.Errorf("server = %q: err = %v, want the port refused", s, err)
		}
	}
	for _, s := range []string{"http://host:1", "https://host:65535", "https://host", "http://[::1]:8750/casefile"} {
		if _, err := checkServer(s); err != nil {
			t.Errorf("server = %q: %v", s, err)
		}
	}
}
