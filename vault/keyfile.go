package vault

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"casefile/internal/leftover"
)

// FileName is the key file's name in a data directory.
const FileName = "casefile.key"

// Argon2id parameters of new key files: RFC 9106's second recommended
// setting (64 MiB, three passes) with two lanes, about a fifth of a second
// on a laptop. Each key file records its own, so they can be raised later
// without breaking older files.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	saltSize     = 16
)

// Bounds on the parameters a key file may ask for, so that a damaged or
// hostile file cannot make unlocking take all memory or forever.
const (
	maxArgonTime   = 16
	maxArgonMemory = 1024 * 1024 // KiB: 1 GiB
)

// Key file kinds.
const (
	kindPassphrase = "argon2id" // the data key wrapped by a passphrase
	kindGenerated  = "stored"   // the data key stored as is (the demo): no protection
)

// wrapAD binds a wrapped key to its purpose and parameters: a key file
// whose salt or cost was edited fails to unwrap.
func wrapAD(f keyFile) []byte {
	return fmt.Appendf(nil, "casefile data key v1|%s|%d|%d|%d|%x", f.Kind, f.Time, f.MemoryKiB, f.Threads, f.Salt)
}

// keyFile is the key file as stored (JSON).
type keyFile struct {
	Version   int    `json:"version"`
	Kind      string `json:"kind"`
	Time      uint32 `json:"time,omitempty"`
	MemoryKiB uint32 `json:"memory_kib,omitempty"`
	Threads   uint8  `json:"threads,omitempty"`
	Salt      []byte `json:"salt,omitempty"`
	Wrapped   []byte `json:"wrapped,omitempty"` // nonce + sealed data key
	Key       []byte `json:"key,omitempty"`     // kind "stored" only
	KeyID     string `json:"key_id"`
}

// Info describes a data directory's key without unlocking it.
type Info struct {
	Exists    bool
	Generated bool   // the key is stored unprotected beside the data (the demo)
	KeyID     string // the data key's id
}

// Stat reads the key file of dir, if any.
func Stat(dir string) (Info, error) {
	f, err := readKeyFile(dir)
	if errors.Is(err, ErrNoKey) {
		return Info{}, nil
	}
	if err != nil {
		return Info{}, err
	}
	return Info{Exists: true, Generated: f.Kind == kindGenerated, KeyID: f.KeyID}, nil
}

// CheckPassphrase refuses a passphrase too weak for a new key file.
func CheckPassphrase(p []byte) error {
	switch {
	case len(p) == 0:
		return ErrEmptyPassphrase
	case len([]rune(string(p))) < MinPassphrase:
		return ErrShortPassphrase
	case strings.ContainsFunc(string(p), func(r rune) bool { return r != '\t' && unicode.IsControl(r) }):
		// A carriage return from a file with Windows line ends, or a
		// line break: set through the environment it would be kept,
		// and no terminal could type it back.
		return ErrControlPassphrase
	}
	return nil
}

// Cost is the work argon2id does to turn a passphrase into the key that
// wraps the data key.
type Cost struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultCost is the cost of new key files.
var DefaultCost = Cost{Time: argonTime, MemoryKiB: argonMemory, Threads: argonThreads}

// TestCost is a cost cheap enough for tests that unlock many times; it
// protects nothing against guessing and is never used by casefile itself.
var TestCost = Cost{Time: 1, MemoryKiB: 64, Threads: 1}

// Create makes a new random data key for dir, wrapped by passphrase at
// DefaultCost, and writes the key file; it refuses to replace an existing
// one.
func Create(dir string, passphrase []byte) (*Keys, error) {
	return CreateWithCost(dir, passphrase, DefaultCost)
}

// CreateWithCost is Create at another argon2id cost (tests: TestCost).
func CreateWithCost(dir string, passphrase []byte, c Cost) (*Keys, error) {
	if err := CheckPassphrase(passphrase); err != nil {
		return nil, err
	}
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	return writeNew(dir, key, passphrase, c)
}

// CreateGenerated makes a new random data key for dir and stores it
// unprotected in the key file: the files are encrypted, but anyone holding
// the directory holds the key too. For the demo only.
func CreateGenerated(dir string) (*Keys, error) {
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	return writeNew(dir, key, nil, Cost{})
}

func writeNew(dir string, key, passphrase []byte, c Cost) (*Keys, error) {
	k, err := newKeys(key)
	if err != nil {
		return nil, err
	}
	if _, err := readKeyFile(dir); !errors.Is(err, ErrNoKey) {
		if err == nil {
			return nil, fmt.Errorf("%s already has an encryption key; unlock it instead", dir)
		}
		return nil, err
	}
	f, err := wrap(key, passphrase, k.ID(), c)
	if err != nil {
		return nil, err
	}
	if err := writeKeyFile(dir, f); err != nil {
		return nil, err
	}
	return k, nil
}

// wrap builds a key file holding key: wrapped by passphrase, or stored as
// is when passphrase is nil.
func wrap(key, passphrase []byte, id string, c Cost) (keyFile, error) {
	f := keyFile{Version: 1, KeyID: id}
	if passphrase == nil {
		f.Kind, f.Key = kindGenerated, key
		return f, nil
	}
	f.Kind, f.Time, f.MemoryKiB, f.Threads = kindPassphrase, c.Time, c.MemoryKiB, c.Threads
	f.Salt = make([]byte, saltSize)
	if _, err := rand.Read(f.Salt); err != nil {
		return f, fmt.Errorf("salt: %w", err)
	}
	kek := argon2.IDKey(passphrase, f.Salt, f.Time, f.MemoryKiB, f.Threads, KeySize)
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return f, err
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return f, fmt.Errorf("nonce: %w", err)
	}
	f.Wrapped = aead.Seal(nonce, nonce, key, wrapAD(f)) // #nosec G407 -- the nonce is 24 random bytes read just above
	return f, nil
}

// unwrap returns the data key of f, using passphrase unless the key is
// stored as is.
func unwrap(f keyFile, passphrase []byte) ([]byte, error) {
	switch f.Kind {
	case kindGenerated:
		return f.Key, nil
	case kindPassphrase:
	default:
		return nil, fmt.Errorf("the key file is of an unknown kind %q (written by a newer casefile?)", f.Kind)
	}
	if f.Time == 0 || f.Time > maxArgonTime || f.MemoryKiB < 8 || f.MemoryKiB > maxArgonMemory || f.Threads == 0 {
		return nil, errors.New("the key file's parameters are out of bounds; it is damaged")
	}
	if len(f.Wrapped) < chacha20poly1305.NonceSizeX {
		return nil, errors.New("the key file is damaged")
	}
	kek := argon2.IDKey(passphrase, f.Salt, f.Time, f.MemoryKiB, f.Threads, KeySize)
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, err
	}
	n := chacha20poly1305.NonceSizeX
	key, err := aead.Open(nil, f.Wrapped[:n], f.Wrapped[n:], wrapAD(f))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return key, nil
}

// Unlock reads dir's key file and unwraps its data key with passphrase
// (ignored for a generated key).
func Unlock(dir string, passphrase []byte) (*Keys, error) {
	f, err := readKeyFile(dir)
	if err != nil {
		return nil, err
	}
	key, err := unwrap(f, passphrase)
	if err != nil {
		return nil, err
	}
	k, err := newKeys(key)
	if err != nil {
		return nil, err
	}
	if f.KeyID != "" && f.KeyID != k.ID() {
		return nil, errors.New("the key file is damaged: its key does not match its id")
	}
	return k, nil
}

// ChangePassphrase re-wraps dir's data key under a new passphrase at
// DefaultCost (also protecting a generated key); no data is re-encrypted.
// The key file is replaced atomically: a crash leaves the old or the new
// one.
func ChangePassphrase(dir string, old, next []byte) error {
	return ChangePassphraseWithCost(dir, old, next, DefaultCost)
}

// ChangePassphraseWithCost is ChangePassphrase at another cost (tests).
func ChangePassphraseWithCost(dir string, old, next []byte, c Cost) error {
	if err := CheckPassphrase(next); err != nil {
		return err
	}
	f, err := readKeyFile(dir)
	if err != nil {
		return err
	}
	key, err := unwrap(f, old)
	if err != nil {
		return err
	}
	nf, err := wrap(key, next, f.KeyID, c)
	if err != nil {
		return err
	}
	return writeKeyFile(dir, nf)
}

func readKeyFile(dir string) (keyFile, error) {
	var f keyFile
	b, err := os.ReadFile(filepath.Join(dir, FileName)) // #nosec G304 -- the key file of the data directory
	if errors.Is(err, fs.ErrNotExist) {
		return f, ErrNoKey
	}
	if err != nil {
		return f, fmt.Errorf("read the key file: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("the key file %s is damaged: %w", filepath.Join(dir, FileName), err)
	}
	if f.Version != 1 {
		return f, fmt.Errorf("the key file is version %d; this casefile reads version 1", f.Version)
	}
	return f, nil
}

// writeKeyFile replaces dir's key file atomically and durably: a temporary
// file, fsync, rename, fsync of the directory. Every temporary key file
// already there goes first, so that none outlives a change of passphrase
// (a casefile changing the passphrase at the same moment may then fail,
// changing nothing).
func writeKeyFile(dir string, f keyFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := removeKeyTemps(dir); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, FileName), append(b, '\n'))
}

// tempPrefix is how WriteFileAtomic names the temporary file of path's
// base name; os.CreateTemp adds a random number.
func tempPrefix(base string) string { return "." + base + ".tmp" }

// IsTemp reports whether name is one WriteFileAtomic gives its temporary
// files, whatever the file it writes.
func IsTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp")
	return i > 1 && name[0] == '.' && leftover.Made(name, name[:i+len(".tmp")])
}

// removeKeyTemps removes every temporary key file in dir, however young.
// Each is a whole key file wrapped by the passphrase its write was
// setting: one a killed write left would still open the data with that
// passphrase after it was changed again, in any copy of the directory
// that took it for its key file.
func removeKeyTemps(dir string) error {
	prefix := tempPrefix(FileName)
	err := leftover.Sweep(dir, func(name string) bool { return leftover.Made(name, prefix) }, 0)
	if err != nil {
		return fmt.Errorf("remove the key's leftover temporary files: %w", err)
	}
	return nil
}

// WriteFileAtomic replaces path with data: a crash leaves either the old
// file or the new one, never a part. A kill can leave the temporary file
// (IsTemp names it), which the next command removes.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPrefix(filepath.Base(path))+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes a rename in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the data directory
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
