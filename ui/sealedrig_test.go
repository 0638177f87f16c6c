package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefile/vault"
)

// sealedRig is the real binary on an encrypted data directory of its own
// (its passphrase at the tests' argon2id cost) with a config file: the
// set-up of the tmux tests that need a passphrase.
type sealedRig struct {
	t                   *testing.T
	bin, dir, data, cfg string
	pass                string
}

// newSealedRig builds casefile and makes the directory, its key and a
// config file holding cfgText.
func newSealedRig(t *testing.T, pass, cfgText string) *sealedRig {
	t.Helper()
	r := &sealedRig{t: t, bin: buildCasefile(t), dir: t.TempDir(), pass: pass}
	r.data, r.cfg = filepath.Join(r.dir, "data"), filepath.Join(r.dir, "config.toml")
	if err := os.WriteFile(r.cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.CreateWithCost(r.data, []byte(pass), vault.TestCost); err != nil {
		t.Fatal(err)
	}
	return r
}

// cli runs a casefile command on the directory and returns its output;
// a failing command fails the test.
func (r *sealedRig) cli(args ...string) string {
	r.t.Helper()
	cmd := exec.Command(r.bin, append([]string{"--data", r.data, "--config", r.cfg}, args...)...)
	cmd.Env = append(os.Environ(), "CASEFILE_PASSPHRASE="+r.pass)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("casefile %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// start opens the UI in a tmux session of its own at 100×30, with env
// (NAME=value words) in its environment and its stderr in stderr if not "".
func (r *sealedRig) start(name, env, stderr string) *tmuxSession {
	r.t.Helper()
	s := &tmuxSession{t: r.t, socket: filepath.Join(r.dir, name+".sock"), name: name}
	r.t.Cleanup(func() { s.tmux("kill-server") })
	cmd := fmt.Sprintf("env NO_COLOR= CASEFILE_PASSPHRASE='%s' %s %s --data %s --config %s", r.pass, env, r.bin, r.data, r.cfg)
	if stderr != "" {
		cmd += " 2>" + stderr
	}
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "100", "-y", "30", cmd); err != nil {
		r.t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	return s
}
