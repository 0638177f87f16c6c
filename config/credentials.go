package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"casefile/internal/leftover"
)

// CredentialsFile is the file in the data directory that holds the login.
const CredentialsFile = "credentials.json"

// ErrNoCredentials means nobody has logged in from this data directory.
var ErrNoCredentials = errors.New("not logged in (run 'casefile login --server URL --user NAME')")

// Credentials are what `casefile login` keeps: the server, the user, the
// device name and the bearer token, readable by the owner only.
type Credentials struct {
	Server    string    `json:"server"`
	User      string    `json:"user"`
	Device    string    `json:"device"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CredentialsPath returns the credentials file of a data directory.
func CredentialsPath(dataDir string) string { return filepath.Join(dataDir, CredentialsFile) }

// LoadCredentials reads the credentials of a data directory, or returns
// ErrNoCredentials when there are none.
func LoadCredentials(dataDir string) (Credentials, error) {
	var c Credentials
	data, err := os.ReadFile(CredentialsPath(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return c, ErrNoCredentials
	}
	if err != nil {
		return c, fmt.Errorf("read credentials: %w", unwrapPath(err))
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s is damaged; log in again: %w", CredentialsPath(dataDir), err)
	}
	if c.Server == "" || c.Token == "" {
		return c, ErrNoCredentials
	}
	return c, nil
}

// credentialsTempPrefix names SaveCredentials' temporary files; a kill
// before the rename leaves one, holding a live token.
const credentialsTempPrefix = ".credentials-"

// IsCredentialsTemp reports whether name is one SaveCredentials gives its
// temporary files.
func IsCredentialsTemp(name string) bool { return leftover.Made(name, credentialsTempPrefix) }

// SaveCredentials writes the credentials of a data directory with mode
// 0600, replacing the file atomically.
func SaveCredentials(dataDir string, c Credentials) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", unwrapPath(err))
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, credentialsTempPrefix+"*")
	if err != nil {
		return fmt.Errorf("write credentials: %w", unwrapPath(err))
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", unwrapPath(err))
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", unwrapPath(err))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", unwrapPath(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credentials: %w", unwrapPath(err))
	}
	if err := os.Rename(tmp.Name(), CredentialsPath(dataDir)); err != nil {
		return fmt.Errorf("write credentials: %w", unwrapPath(err))
	}
	return nil
}
