package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"casefile/config"
	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/vault"
)

// sealedRig is the real binary on a data directory of its own with a
// config file: the set-up of the tmux tests. With a passphrase the
// directory is encrypted with it (at the tests' argon2id cost); without
// one the binary keeps a generated key beside the data, as scripts do.
type sealedRig struct {
	t                   *testing.T
	bin, dir, data, cfg string
	pass                string
	width, height       int // of the tmux window: 100×30 unless set
}

// newSealedRig builds casefile and makes the directory, its key and
// database (if pass is not "") and a config file holding cfgText.
func newSealedRig(t *testing.T, pass, cfgText string) *sealedRig {
	t.Helper()
	r := &sealedRig{t: t, bin: buildCasefile(t), dir: t.TempDir(), pass: pass, width: 100, height: 30}
	r.data, r.cfg = filepath.Join(r.dir, "data"), filepath.Join(r.dir, "config.toml")
	if err := os.WriteFile(r.cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if pass == "" {
		return r
	}
	if err := os.MkdirAll(r.data, 0o700); err != nil {
		t.Fatal(err)
	}
	keys, err := vault.CreateWithCost(r.data, []byte(pass), vault.TestCost)
	if err != nil {
		t.Fatal(err)
	}
	// And its database, as casefile init leaves them: a directory with a
	// key and no database has lost it.
	db, err := localdb.Open(context.Background(), config.DBPath(r.data), localdbtest.Schema(t), localdb.WithSealer(keys))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return r
}

// passEnv is the passphrase's environment assignment, or "" without one.
func (r *sealedRig) passEnv() string {
	if r.pass == "" {
		return ""
	}
	return "CASEFILE_PASSPHRASE='" + r.pass + "'"
}

// run runs a casefile command on the directory and returns its output
// and how it ended.
func (r *sealedRig) run(args ...string) (string, error) {
	cmd := exec.Command(r.bin, append([]string{"--data", r.data, "--config", r.cfg}, args...)...)
	cmd.Env = os.Environ()
	if r.pass != "" {
		cmd.Env = append(cmd.Env, "CASEFILE_PASSPHRASE="+r.pass)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// cli runs a casefile command on the directory and returns its output;
// a failing command fails the test.
func (r *sealedRig) cli(args ...string) string {
	r.t.Helper()
	out, err := r.run(args...)
	if err != nil {
		r.t.Fatalf("casefile %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// start opens the UI in a tmux session of its own, with env
// (NAME=value words) in its environment and its stderr in stderr if not "".
func (r *sealedRig) start(name, env, stderr string) *tmuxSession {
	r.t.Helper()
	cmd := fmt.Sprintf("env NO_COLOR= %s %s %s --data %s --config %s", r.passEnv(), env, r.bin, r.data, r.cfg)
	if stderr != "" {
		cmd += " 2>" + stderr
	}
	return startTmux(r.t, filepath.Join(r.dir, name+".sock"), name, r.width, r.height, cmd)
}
