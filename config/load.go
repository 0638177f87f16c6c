package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"casefile/model"
)

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
			c.DataDir, err = checkedStr(v, checkFileDir)
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
				c.DropFolder, err = checkFileDir(c.DropFolder)
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
	switch v := v.(type) {
	case string:
		return "a string"
	case int64:
		return "a number"
	case float64:
		return "a number with a fraction or an exponent (" + strconv.FormatFloat(v, 'g', -1, 64) + ")"
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
