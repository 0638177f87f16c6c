package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"casefile/config"
	"casefile/server"
)

// serveCommands are the commands of this file, for the command table.
func serveCommands() []Command {
	return []Command{
		{
			Name:    "serve",
			Usage:   "[--addr HOST:PORT] [--metrics-listen HOST:PORT] [--data DIR | --database URL] [--retention D] [--token-ttl D] [--max-file-size N] [--user-quota N]",
			Summary: "Run the sync server",
			Run:     runServe,
		},
	}
}

// EnvServerDatabase names a PostgreSQL database for serve and admin when
// --database is not given.
const EnvServerDatabase = "CASEFILE_DATABASE_URL"

// DefaultServerDataDir returns $XDG_DATA_HOME/casefile-server, or
// ~/.local/share/casefile-server.
func DefaultServerDataDir(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "casefile-server")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "casefile-server"
	}
	return filepath.Join(home, ".local", "share", "casefile-server")
}

// storeFlags are the flags that name the server's store.
type storeFlags struct {
	data, database string
}

func (sf *storeFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&sf.data, "data", "", "server data directory, holding server.db (default $XDG_DATA_HOME/casefile-server)")
	fs.StringVar(&sf.database, "database", "", "PostgreSQL URL, postgres://… (env "+EnvServerDatabase+"); instead of --data")
}

// options resolves the flags (the global --data too, when the command has
// none) into server options.
func (sf *storeFlags) options(env *Env) (server.Options, error) {
	if sf.data != "" && sf.database != "" {
		return server.Options{}, usageError("give --data or --database, not both")
	}
	if sf.database == "" && sf.data == "" {
		sf.database = env.Getenv(EnvServerDatabase)
	}
	if sf.database != "" {
		if !strings.HasPrefix(sf.database, "postgres://") && !strings.HasPrefix(sf.database, "postgresql://") {
			return server.Options{}, usageError("--database must be a postgres:// URL")
		}
		return server.Options{DatabaseURL: sf.database}, nil
	}
	dir, err := sf.dataDir(env)
	if err != nil {
		return server.Options{}, err
	}
	return server.Options{DataDir: dir}, nil
}

// dataDir is the server's data directory the flags name (the global
// --data too, when the command has none, else the default), absolute,
// and refused if it is a device's.
func (sf *storeFlags) dataDir(env *Env) (string, error) {
	dir := sf.data
	if dir == "" {
		dir = env.DataDir
	}
	if dir == "" {
		dir = DefaultServerDataDir(env.Getenv)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := notDeviceDir(abs); err != nil {
		return "", err
	}
	return abs, nil
}

// serveConfig reads the config file and the environment for the server's
// keys (metrics_listen, metrics_token). Unlike loadConfig it leaves
// env.DataDir alone: the client's data directory is not the server's.
func serveConfig(env *Env) (config.Config, error) {
	return readConfig(env)
}

func runServe(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	var sf storeFlags
	sf.define(fs)
	addr := fs.String("addr", "127.0.0.1:8750", "address to listen on")
	metricsListen := fs.String("metrics-listen", "", "serve /metrics here only, not on --addr; \"\" puts it back on --addr (config metrics_listen, env "+config.EnvMetricsListen+
		"; its bearer token: config metrics_token, env "+config.EnvMetricsToken+")")
	retention := fs.Duration("retention", server.DefaultRetention, "how long tombstones and the op ledger are kept")
	tokenTTL := fs.Duration("token-ttl", server.DefaultTokenTTL, "lifetime of a login token")
	rateLimit := fs.Float64("rate-limit", float64(server.DefaultRateLimit), "requests per second per token (0: no limit)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	maxFile := fs.String("max-file-size", "4GiB", "largest attached file accepted (e.g. 500MB, 4GiB; 0: no limit)")
	quota := fs.String("user-quota", "50GiB", "bytes of files one user may upload (0: no limit)")
	rest, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("serve takes no arguments (got %q)", strings.Join(rest, " "))
	}
	if *retention <= 0 || *tokenTTL <= 0 {
		return usageError("--retention and --token-ttl must be positive durations such as 720h")
	}
	if *rateLimit < 0 || math.IsNaN(*rateLimit) || math.IsInf(*rateLimit, 0) {
		return usageError("--rate-limit must be a number of requests a second, 0 or more (0: no limit)")
	}
	maxFileBytes, err := parseByteSize(*maxFile)
	if err != nil {
		return usageError("--max-file-size: %v", err)
	}
	quotaBytes, err := parseByteSize(*quota)
	if err != nil {
		return usageError("--user-quota: %v", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError("--log-level must be debug, info, warn or error")
	}
	if *metricsListen, err = config.CheckListenAddr(*metricsListen); err != nil {
		return usageError("--metrics-listen: %v", err)
	}
	opts, err := sf.options(env)
	if err != nil {
		return err
	}
	cfg, err := serveConfig(env)
	if err != nil {
		return err
	}
	opts.MetricsListen, opts.MetricsToken = cfg.MetricsListen, cfg.MetricsToken
	if flagGiven(fs, "metrics-listen") {
		opts.MetricsListen = *metricsListen
	}
	opts.Retention, opts.TokenTTL = *retention, *tokenTTL
	opts.MaxFileBytes, opts.UserQuotaBytes = noLimitIfZero(maxFileBytes), noLimitIfZero(quotaBytes)
	opts.RateLimit = rate.Limit(*rateLimit)
	if *rateLimit == 0 {
		opts.RateLimit = -1
	}
	opts.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return fmt.Errorf("cannot listen on %s: %w", *addr, err)
	}
	if opts.DatabaseURL == "" && opts.DataDir != "" {
		release, err := lockServeDir(opts.DataDir)
		if err != nil {
			ln.Close()
			return err
		}
		defer release()
		// Checked holding the lock, which a move holds until it has
		// left its mark.
		if err := notMoved(opts.DataDir); err != nil {
			ln.Close()
			return err
		}
	}
	srv, err := server.Open(ctx, opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	fmt.Fprintf(env.Stderr, "casefile server listening on http://%s (store: %s)\n", ln.Addr(), srv.Describe())
	if a := srv.MetricsAddr(); a != nil {
		fmt.Fprintf(env.Stderr, "casefile server metrics on http://%s/metrics\n", a)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Finish requests in flight (a push completes its batch), then stop.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(env.Stderr, "casefile server stopped")
	return nil
}

// byteUnits are the suffixes parseByteSize takes, longest first.
var byteUnits = []struct {
	suffix string
	n      int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}, {"B", 1}}

// parseByteSize reads a size such as 500MB or 4GiB (a bare number is bytes).
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || (mult > 1 && n > math.MaxInt64/mult) {
		return 0, fmt.Errorf("%q is not a size such as 500MB or 4GiB", s)
	}
	return n * mult, nil
}

// noLimitIfZero maps a size of 0 ("no limit") to the server's negative.
func noLimitIfZero(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// flagGiven reports whether the command line set the flag, even to "".
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
