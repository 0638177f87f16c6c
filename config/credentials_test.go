package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCredentialsRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := LoadCredentials(dir); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("load before login: %v, want ErrNoCredentials", err)
	}
	want := Credentials{Server: "http://127.0.0.1:8750", User: "alice", Device: "laptop", Token: "abc",
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := SaveCredentials(dir, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(CredentialsPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("loaded %+v, want %+v", got, want)
	}
	want.Token = "def"
	if err := SaveCredentials(dir, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadCredentials(dir); got.Token != "def" {
		t.Errorf("after second save token = %q", got.Token)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only %s", len(entries), CredentialsFile)
	}
}

func TestCredentialsDamaged(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(CredentialsPath(dir), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCredentials(dir)
	if err == nil || errors.Is(err, ErrNoCredentials) {
		t.Fatalf("load damaged file: %v, want a damage error", err)
	}
}
