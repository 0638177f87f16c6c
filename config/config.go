// Package config reads the user's casefile settings: a TOML file in the
// user's config directory, overridden by environment variables, which the
// command line in turn overrides with its flags.
package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"

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
