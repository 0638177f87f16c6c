package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"casefile/config"
	"casefile/internal/safetext"
	"casefile/protocol"
)

// loginCommands are the commands of this file, for the command table.
func loginCommands() []Command {
	return []Command{
		{
			Name:    "login",
			Usage:   "--server URL --user NAME [--device NAME]",
			Summary: "Log in to a sync server (password from stdin) and keep the token in the data directory",
			Run:     runLogin,
		},
	}
}

func runLogin(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error {
	serverURL := fs.String("server", "", "the server's URL, e.g. http://127.0.0.1:8750 (default: the config's server)")
	user := fs.String("user", "", "your user name")
	device := fs.String("device", "", "a name for this device (default: the host name)")
	rest, err := Parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("login takes no arguments (got %q)", strings.Join(rest, " "))
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	if *serverURL == "" {
		*serverURL = cfg.Server
	}
	base, err := checkServerURL(*serverURL)
	if err != nil {
		return err
	}
	if *user == "" {
		return usageError("--user is required")
	}
	// A data directory is one user's: their records, their queue of
	// changes not yet sent. Another user's login here would send those
	// changes as theirs and show them records they may not see.
	old, err := loadCredentials(cfg)
	if err != nil && !errors.Is(err, config.ErrNoCredentials) {
		return fmt.Errorf("read the saved login, to check whose data directory this is: %w", err)
	}
	if err == nil && old.User != "" && old.User != *user {
		return fmt.Errorf("this data directory holds %s's work (from %s); logging in as %s here would send %s's unsent changes as %s's and leave %s's records in view. Use a data directory of %s's own (--data DIR, or CASEFILE_DATA)",
			safetext.Line(old.User), safetext.Line(old.Server), safetext.Line(*user), safetext.Line(old.User), safetext.Line(*user), safetext.Line(old.User), safetext.Line(*user))
	}
	if *device == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			*device = h
		} else {
			*device = "unnamed device"
		}
	}
	password, err := readPassword(env, "Password for "+*user+" at "+base)
	if err != nil {
		return err
	}
	resp, err := login(ctx, base, protocol.LoginRequest{User: *user, Password: password, Device: *device})
	if err != nil {
		return err
	}
	creds := config.Credentials{Server: base, User: resp.User, Device: resp.Device, Token: resp.Token, ExpiresAt: resp.ExpiresAt}
	if err := config.SaveCredentials(cfg.DataDir, creds); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "logged in to %s as %s (%s) from %q; the login lasts until %s\n",
		safetext.Line(base), safetext.Line(resp.User), safetext.Line(string(resp.Role)), resp.Device, resp.ExpiresAt.Local().Format("2006-01-02 15:04"))
	return nil
}

// checkServerURL accepts http(s)://host[:port][/path] and returns it
// without a trailing slash.
func checkServerURL(s string) (string, error) {
	if s == "" {
		return "", usageError("--server is required (or set server in the config file)")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", usageError("--server must be a URL such as http://127.0.0.1:8750, not %q", s)
	}
	if err := config.CheckServerPort(u); err != nil {
		return "", usageError("--server: %v", err)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// login asks the server for a token.
func login(ctx context.Context, base string, req protocol.LoginRequest) (protocol.LoginResponse, error) {
	var out protocol.LoginResponse
	body, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, base+protocol.PathLogin, bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return out, fmt.Errorf("cannot reach the server at %s: %w", base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return out, fmt.Errorf("read the server's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var er protocol.ErrorResponse
		if json.Unmarshal(data, &er) == nil && er.Error.Message != "" {
			return out, fmt.Errorf("login refused: %s", er.Error.Message)
		}
		return out, fmt.Errorf("login refused: the server answered %s", resp.Status)
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Token == "" {
		return out, fmt.Errorf("the server at %s did not answer like a casefile server", base)
	}
	return out, nil
}
