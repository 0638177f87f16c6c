package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// checkTimeZone loads an IANA zone name.
func checkTimeZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Paris or America/New_York, or leave it out for this computer's zone", name)
	}
	return loc, nil
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
	if err := CheckServerPort(u); err != nil {
		return "", err
	}
	return strings.TrimRight(s, "/"), nil
}

// CheckServerPort refuses a server URL whose port is not one from 1 to
// 65535. url.Parse takes any run of digits, and such a URL would fail only
// at each sync, as a server that cannot be reached.
func CheckServerPort(u *url.URL) error {
	p := u.Port()
	if p == "" {
		return nil // the scheme's own port
	}
	if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("the port must be a number from 1 to 65535, not %s: %q", p, u.Redacted())
	}
	return nil
}

// ExpandHome replaces a leading "~/" (or a lone "~") with the user's home
// directory. Another user's home ("~bob/x") is refused: Casefile does not
// look users up, and kept as it is the path would make a directory named
// "~bob" wherever the command runs, which is never what was meant.
func ExpandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		if strings.HasPrefix(p, "~") {
			return "", fmt.Errorf("%q names another user's home directory (~user), which Casefile does not expand: write the full path, or start it with ~/ for your own home", p)
		}
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

// checkFileDir checks a directory named in the config file, which must be
// absolute once "~/" is expanded. A relative one is refused rather than
// read against the working directory (a command run from another
// directory would find no data, as if it were gone) or against the config
// file's directory (data_dir = "data" would then put the database among
// the settings, and mean something else than the same path given in
// CASEFILE_DATA or --data, which are relative to the working directory as
// a shell's paths are).
func checkFileDir(s string) (string, error) {
	d, err := checkDataDir(s)
	if err != nil || d == "" {
		return d, err
	}
	if !filepath.IsAbs(d) {
		return "", fmt.Errorf("%q is a relative path, which each command would read from the directory it runs in: write the full path (like /home/ana/casefile) or start it with ~/", s)
	}
	return d, nil
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
