// Package config reads the user's casefile settings: a TOML file in the
// user's config directory, overridden by environment variables, which the
// command line in turn overrides with its flags.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"casefile/model"
	"casefile/protocol"
)

// File names inside the data directory.
const (
	DBFile  = "casefile.db"  // the client's local database
	LogFile = "casefile.log" // the client's log; the terminal UI never logs to the terminal
)

// Environment variables that override the file.
const (
	EnvServer         = "CASEFILE_SERVER"
	EnvData           = "CASEFILE_DATA"
	EnvTheme          = "CASEFILE_THEME"
	EnvSyncInterval   = "CASEFILE_SYNC_INTERVAL"
	EnvRequestTimeout = "CASEFILE_REQUEST_TIMEOUT"
	EnvTimeZone       = "CASEFILE_TIME_ZONE"
	EnvDateOrder      = "CASEFILE_DATE_ORDER"
	EnvConfig         = "CASEFILE_CONFIG" // the config file itself; read by the CLI
)

// Environment variables of the sync server's settings (casefile serve).
const (
	EnvMetricsListen = "CASEFILE_METRICS_LISTEN"
	EnvMetricsToken  = "CASEFILE_METRICS_TOKEN" // a secret: an env var keeps it off the command line
)

// Themes the terminal UI knows.
const (
	ThemeAuto  = "auto" // follow the terminal's background
	ThemeDark  = "dark"
	ThemeLight = "light"
)

// Defaults of the settings that have one.
const (
	DefaultTheme          = ThemeAuto
	DefaultSyncInterval   = 30 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	// DefaultBatchSize is the most a push carries: past the per-op work,
	// each push costs three durable commits and a round trip, which a
	// full batch shares among the most ops.
	DefaultBatchSize = protocol.MaxOpsPerPush
	DefaultLogLevel  = "info"
)

// Bounds of the numeric settings.
const (
	MinSyncInterval   = time.Second
	MaxSyncInterval   = 24 * time.Hour
	MinRequestTimeout = 5 * time.Second
	MaxRequestTimeout = 30 * time.Minute
	MaxBatchSize      = protocol.MaxOpsPerPush
	// MinMetricsToken is the shortest metrics token: /metrics has no rate
	// limit, so a token must be too long to guess.
	MinMetricsToken = 16
	MaxMetricsToken = 256
)

// Config is the user's settings after the file and the environment. The
// Metrics fields are the sync server's; the client ignores them.
type Config struct {
	// Path is the file the settings were read from (it may not exist).
	Path string
	// Server is the sync server's base URL; "" until one is set.
	Server string
	// DataDir is the directory of the local database and log; "" means
	// DefaultDataDir().
	DataDir string
	// Theme is auto, dark or light.
	Theme string
	// SyncInterval is how often the syncer polls when it has no live event
	// stream.
	SyncInterval time.Duration
	// RequestTimeout bounds one push, pull or login exchange, answer
	// included: raise it on a link slow enough to need more than a minute
	// for a batch.
	RequestTimeout time.Duration
	// BatchSize is how many ops one push carries at most.
	BatchSize int
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// Keys overrides the terminal UI's key map: action name → keys.
	Keys map[string][]string
	// MetricsListen is the sync server's address (host:port) of its own
	// for GET /metrics; "" serves /metrics with the API.
	MetricsListen string
	// MetricsToken is the bearer token the sync server's /metrics
	// requires; "" requires none. It is a secret: never log it.
	MetricsToken string
	// TimeZone is the person's time zone (an IANA name such as
	// Europe/Paris): a date and time typed without a zone is read in it.
	// "" is the computer's own zone.
	TimeZone string
	// DateOrder is how the person writes a day in digits: DMY (15/12) or
	// MDY (12/15).
	DateOrder model.DateOrder
	// DropFolder is the folder whose per-matter sub-folders import
	// dropped files; "" means DefaultDropFolder(), "off" turns it off.
	DropFolder string
	// DropKeepOriginals leaves imported files in place instead of moving
	// them to the matter folder's imported/ sub-folder.
	DropKeepOriginals bool
}

// DefaultDateOrder reads 15/12 as the 15th of December.
const DefaultDateOrder = model.DMY

// Zone returns the person's time zone: TimeZone, or the computer's own.
func (c Config) Zone() (*time.Location, error) {
	if c.TimeZone == "" {
		return time.Local, nil
	}
	return checkTimeZone(c.TimeZone)
}

// checkTimeZone loads an IANA zone name.
func checkTimeZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Paris or America/New_York, or leave it out for this computer's zone", name)
	}
	return loc, nil
}

// DropFolderOff is the drop_folder value that turns the drop folder off.
const DropFolderOff = "off"

// DefaultDropFolder is ~/Casefile/Inbox: beside a person's documents,
// where they look, not hidden in the data directory.
func DefaultDropFolder() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, "Casefile", "Inbox")
}

// ResolvedDropFolder returns the drop folder, "" when it is off.
func (c Config) ResolvedDropFolder() string {
	switch c.DropFolder {
	case DropFolderOff:
		return ""
	case "":
		return DefaultDropFolder()
	}
	return c.DropFolder
}

// Default returns the settings used when nothing is configured.
func Default() Config {
	return Config{
		Theme:          DefaultTheme,
		SyncInterval:   DefaultSyncInterval,
		RequestTimeout: DefaultRequestTimeout,
		BatchSize:      DefaultBatchSize,
		LogLevel:       DefaultLogLevel,
		Keys:           map[string][]string{},
		DateOrder:      DefaultDateOrder,
	}
}

// DefaultPath returns the config file's usual place:
// os.UserConfigDir()/casefile/config.toml.
func DefaultPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		if home, herr := os.UserHomeDir(); herr == nil {
			dir = filepath.Join(home, ".config")
		} else {
			return filepath.Join("casefile", "config.toml")
		}
	}
	return filepath.Join(dir, "casefile", "config.toml")
}

// DefaultDataDir returns $XDG_DATA_HOME/casefile, or
// ~/.local/share/casefile when XDG_DATA_HOME is unset.
func DefaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "casefile")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".casefile")
	}
	return filepath.Join(home, ".local", "share", "casefile")
}

// DBPath returns the local database file of a data directory.
func DBPath(dataDir string) string { return filepath.Join(dataDir, DBFile) }

// LogPath returns the log file of a data directory.
func LogPath(dataDir string) string { return filepath.Join(dataDir, LogFile) }

// ResolvedDataDir returns DataDir, or DefaultDataDir() when it is unset.
func (c Config) ResolvedDataDir() string {
	if c.DataDir != "" {
		return c.DataDir
	}
	return DefaultDataDir()
}

// SlogLevel returns LogLevel as a log/slog level.
func (c Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Load reads the config file at path (DefaultPath() when "") and applies
// the environment overrides. A missing file means the defaults. Unknown
// keys are not errors: each yields a warning naming it. A bad value is an
// error naming its key.
func Load(path string) (Config, []string, error) {
	return LoadEnv(path, os.Getenv)
}

// LoadEnv is Load with the environment read through getenv.
func LoadEnv(path string, getenv func(string) string) (Config, []string, error) {
	return load(path, false, getenv)
}

// LoadNamed is LoadEnv for a file the user named (--config,
// $CASEFILE_CONFIG): a file that is missing or cannot be read is an
// error, not the defaults — a typo in its path must not start a server
// with none of its settings (such as a private metrics listener).
func LoadNamed(path string, getenv func(string) string) (Config, []string, error) {
	return load(path, true, getenv)
}

func load(path string, named bool, getenv func(string) string) (Config, []string, error) {
	if path == "" {
		path = DefaultPath()
	}
	cfg := Default()
	cfg.Path = path
	data, err := os.ReadFile(path) // #nosec G304 -- the user's own config file, named by them
	var warnings []string
	switch {
	case errors.Is(err, fs.ErrNotExist) && named:
		return Config{}, nil, fmt.Errorf("read config %s: the file does not exist (named by --config or %s)", path, EnvConfig)
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Config{}, nil, fmt.Errorf("read config %s: %w", path, unwrapPath(err))
	default:
		warnings, err = cfg.parse(path, data)
		if err != nil {
			return Config{}, warnings, err
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return Config{}, warnings, err
	}
	return cfg, warnings, nil
}

// unwrapPath drops the *fs.PathError wrapper whose path we already name.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// knownKeys are the top-level keys, in the order docs/config.md lists them.
var knownKeys = []string{"server", "data_dir", "theme", "sync_interval", "request_timeout", "batch_size", "log_level", "keys",
	"metrics_listen", "metrics_token", "drop_folder", "drop_keep_originals", "time_zone", "date_order"}

func (c *Config) parse(path string, data []byte) ([]string, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var warnings []string
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		v := raw[key]
		var err error
		switch key {
		case "server":
			c.Server, err = checkedStr(v, checkServer)
		case "data_dir":
			c.DataDir, err = checkedStr(v, checkDataDir)
		case "theme":
			c.Theme, err = checkedStr(v, checkTheme)
		case "sync_interval":
			c.SyncInterval, err = checkedStr(v, parseInterval)
		case "request_timeout":
			c.RequestTimeout, err = checkedStr(v, parseRequestTimeout)
		case "batch_size":
			c.BatchSize, err = batchSize(v)
		case "log_level":
			c.LogLevel, err = checkedStr(v, checkLogLevel)
		case "keys":
			c.Keys, err = keyMap(v)
		case "metrics_listen":
			c.MetricsListen, err = checkedStr(v, CheckListenAddr)
		case "metrics_token":
			c.MetricsToken, err = checkedStr(v, checkMetricsToken)
		case "drop_folder":
			c.DropFolder, err = str(v)
			if err == nil && c.DropFolder != DropFolderOff {
				c.DropFolder, err = checkDataDir(c.DropFolder)
			}
		case "drop_keep_originals":
			var ok bool
			if c.DropKeepOriginals, ok = v.(bool); !ok {
				err = fmt.Errorf("must be true or false, not %s", tomlKind(v))
			}
		case "time_zone":
			c.TimeZone, err = str(v)
			if err == nil && c.TimeZone != "" {
				_, err = checkTimeZone(c.TimeZone)
			}
		case "date_order":
			c.DateOrder, err = checkedStr(v, model.ParseDateOrder)
		default:
			warnings = append(warnings, unknownKey(path, key, knownKeys))
			continue
		}
		if err != nil {
			return warnings, fmt.Errorf("%s: %s: %w", path, key, err)
		}
	}
	return warnings, nil
}

func (c *Config) applyEnv(getenv func(string) string) error {
	// In this order: the first bad variable is the one reported.
	for _, set := range []func() error{
		func() error { return fromEnv(getenv, EnvServer, &c.Server, checkServer) },
		func() error { return fromEnv(getenv, EnvData, &c.DataDir, checkDataDir) },
		func() error { return fromEnv(getenv, EnvTheme, &c.Theme, checkTheme) },
		func() error { return fromEnv(getenv, EnvSyncInterval, &c.SyncInterval, parseInterval) },
		func() error { return fromEnv(getenv, EnvTimeZone, &c.TimeZone, checkTimeZoneName) },
		func() error { return fromEnv(getenv, EnvDateOrder, &c.DateOrder, model.ParseDateOrder) },
		func() error { return fromEnv(getenv, EnvRequestTimeout, &c.RequestTimeout, parseRequestTimeout) },
		func() error { return fromEnv(getenv, EnvMetricsListen, &c.MetricsListen, CheckListenAddr) },
		func() error { return fromEnv(getenv, EnvMetricsToken, &c.MetricsToken, checkMetricsToken) },
	} {
		if err := set(); err != nil {
			return err
		}
	}
	return nil
}

// fromEnv sets *dst from the environment variable name, through check,
// when the variable is set; an error names the variable.
func fromEnv[T any](getenv func(string) string, name string, dst *T, check func(string) (T, error)) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	got, err := check(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = got
	return nil
}

// checkedStr reads a config value that must be a string and passes it
// through check.
func checkedStr[T any](v any, check func(string) (T, error)) (T, error) {
	s, err := str(v)
	if err != nil {
		var zero T
		return zero, err
	}
	return check(s)
}

// parseRequestTimeout reads request_timeout within its bounds.
func parseRequestTimeout(s string) (time.Duration, error) {
	return parseDuration(s, MinRequestTimeout, MaxRequestTimeout)
}

// checkTimeZoneName checks a time zone and keeps it as its name.
func checkTimeZoneName(s string) (string, error) {
	if _, err := checkTimeZone(s); err != nil {
		return "", err
	}
	return s, nil
}

func unknownKey(path, key string, known []string) string {
	w := fmt.Sprintf("%s: unknown key %q (ignored)", path, key)
	if s := closest(key, known); s != "" {
		w += fmt.Sprintf("; did you mean %q?", s)
	}
	return w
}

func str(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("must be a string, not %s", tomlKind(v))
	}
	return s, nil
}

func checkServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("not an http or https URL: %q", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the server URL cannot carry a query or fragment: %q", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// ExpandHome replaces a leading "~/" with the user's home directory.
func ExpandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %q: %w", p, err)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}

func checkDataDir(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	return ExpandHome(s)
}

// CheckListenAddr checks an address to listen on, host:port with a
// numeric port ("" stays ""); whether the host can be bound is known only
// when the server starts.
func CheckListenAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("not a HOST:PORT address (like 127.0.0.1:9750): %q", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return "", fmt.Errorf("the port must be a number from 0 to 65535: %q", s)
	}
	return s, nil
}

// checkMetricsToken checks a metrics token; the error never quotes it.
func checkMetricsToken(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) < MinMetricsToken || len(s) > MaxMetricsToken {
		return "", fmt.Errorf("must be %d to %d characters long (e.g. the output of: openssl rand -hex 32)",
			MinMetricsToken, MaxMetricsToken)
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return "", errors.New("must be printable ASCII without spaces, to fit an Authorization header")
		}
	}
	return s, nil
}

func checkTheme(s string) (string, error) {
	switch s {
	case ThemeAuto, ThemeDark, ThemeLight:
		return s, nil
	}
	return "", fmt.Errorf("%q is not one of: auto, dark, light", s)
}

func checkLogLevel(s string) (string, error) {
	s = strings.ToLower(s)
	switch s {
	case "debug", "info", "warn", "error":
		return s, nil
	}
	return "", fmt.Errorf("%q is not one of: debug, info, warn, error", s)
}

func parseInterval(s string) (time.Duration, error) {
	return parseDuration(s, MinSyncInterval, MaxSyncInterval)
}

// parseDuration reads a duration setting within [lo, hi].
func parseDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("not a duration (like 30s, 5m or 1h): %q", s)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("must be between %s and %s, not %s", lo, hi, d)
	}
	return d, nil
}

func batchSize(v any) (int, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("must be a whole number, not %s", tomlKind(v))
	}
	if n < 1 || n > MaxBatchSize {
		return 0, fmt.Errorf("must be between 1 and %d, not %d", MaxBatchSize, n)
	}
	return int(n), nil
}

// keyMap reads the [keys] table: action = ["key", ...] or action = "key".
func keyMap(v any) (map[string][]string, error) {
	table, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a table of action = [\"key\", ...], not %s", tomlKind(v))
	}
	out := make(map[string][]string, len(table))
	for _, action := range slices.Sorted(maps.Keys(table)) {
		var keys []string
		switch x := table[action].(type) {
		case string:
			keys = []string{x}
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: keys must be strings, found %s", action, tomlKind(e))
				}
				keys = append(keys, s)
			}
		default:
			return nil, fmt.Errorf("%s: must be a key or a list of keys, not %s", action, tomlKind(x))
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: name at least one key", action)
		}
		for _, k := range keys {
			if strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("%s: a key cannot be empty", action)
			}
		}
		out[action] = keys
	}
	return out, nil
}

func tomlKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64, float64:
		return "a number"
	case bool:
		return "true/false"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date"
	}
	return fmt.Sprintf("%T", v)
}

// closest returns the known key within two edits of key, or "".
func closest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
