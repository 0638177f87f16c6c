package vault

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSealOpenBindsPlace(t *testing.T) {
	k, err := NewRandom()
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"title":"privileged"}`)
	ad := []byte("records|fields|0190")
	sealed := k.Seal(plain, ad)
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed value holds the plaintext")
	}
	if len(sealed) != len(plain)+Overhead {
		t.Fatalf("sealed %d bytes, want %d", len(sealed), len(plain)+Overhead)
	}
	got, err := k.Open(sealed, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := k.Seal(plain, ad); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce repeats")
	}
	// Moved to another place: refused.
	if _, err := k.Open(sealed, []byte("records|fields|0191")); !errors.Is(err, ErrTampered) {
		t.Fatalf("Open at another place = %v, want ErrTampered", err)
	}
	// Any flipped bit, anywhere: refused, never garbage.
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := k.Open(bad, ad); !errors.Is(err, ErrTampered) {
			t.Fatalf("byte %d flipped: Open = %v, want ErrTampered", i, err)
		}
	}
	if _, err := k.Open(sealed[:len(sealed)-1], ad); !errors.Is(err, ErrTampered) {
		t.Fatalf("truncated: %v", err)
	}
	// Another key: refused.
	other, _ := NewRandom()
	if _, err := other.Open(sealed, ad); !errors.Is(err, ErrTampered) {
		t.Fatalf("other key: %v", err)
	}
}

func TestBlindIsKeyed(t *testing.T) {
	a, _ := NewRandom()
	b, _ := NewRandom()
	if first, again := a.Blind("court"), a.Blind("court"); first != again {
		t.Fatal("a word's token changes")
	}
	if a.Blind("court") == a.Blind("courts") {
		t.Fatal("two words share a token")
	}
	if a.Blind("court") == b.Blind("court") {
		t.Fatal("a token does not depend on the key")
	}
	if strings.Contains(a.Blind("court"), "court") {
		t.Fatal("the token shows the word")
	}
}

func TestKeyFileUnlockAndChangePassphrase(t *testing.T) {
	dir := t.TempDir()
	if _, err := Unlock(dir, []byte("whatever1")); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Unlock without key file = %v, want ErrNoKey", err)
	}
	if _, err := CreateWithCost(dir, []byte("short"), TestCost); !errors.Is(err, ErrShortPassphrase) {
		t.Fatalf("short passphrase: %v", err)
	}
	for _, p := range []string{"long enough\r", "long\nenough", "long\x1b[31menough"} {
		if _, err := CreateWithCost(dir, []byte(p), TestCost); !errors.Is(err, ErrControlPassphrase) {
			t.Fatalf("passphrase %q: %v", p, err)
		}
	}
	if err := CheckPassphrase([]byte("tab\tis typed; ünïcödé too")); err != nil {
		t.Fatalf("a passphrase with a tab and letters of any script: %v", err)
	}
	k, err := Create(dir, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, []byte("correct horse")) {
		t.Fatal("the key file holds the passphrase")
	}
	if _, err := CreateWithCost(dir, []byte("another one"), TestCost); err == nil {
		t.Fatal("Create replaced an existing key file")
	}
	sealed := k.Seal([]byte("value"), []byte("ad"))

	start := time.Now()
	_, err = Unlock(dir, []byte("wrong horse"))
	t.Logf("one argon2id unlock: %v", time.Since(start))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if strings.Count(err.Error(), ".") > 0 || strings.Contains(err.Error(), "\n") {
		t.Fatalf("not one sentence: %q", err)
	}

	if err := ChangePassphraseWithCost(dir, []byte("wrong horse"), []byte("battery staple"), TestCost); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("change with a wrong passphrase: %v", err)
	}
	if err := ChangePassphraseWithCost(dir, []byte("correct horse"), []byte("battery staple"), TestCost); err != nil {
		t.Fatal(err)
	}
	if _, err := Unlock(dir, []byte("correct horse")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after change: %v", err)
	}
	k2, err := Unlock(dir, []byte("battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	// Same data key: what was sealed before the change still opens.
	if got, err := k2.Open(sealed, []byte("ad")); err != nil || string(got) != "value" {
		t.Fatalf("after a passphrase change: %q, %v", got, err)
	}
	if !SameKey(k, k2) {
		t.Fatal("the data key changed with the passphrase")
	}
	info, err := Stat(dir)
	if err != nil || !info.Exists || info.Generated || info.KeyID != k.ID() {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

func TestKeyFileTamperedParameters(t *testing.T) {
	dir := t.TempDir()
	if _, err := CreateWithCost(dir, []byte("correct horse"), Cost{Time: 3, MemoryKiB: 64, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	raw, _ := os.ReadFile(path)
	// Lowering the cost to speed up guessing breaks the wrap.
	weak := bytes.Replace(raw, []byte(`"time": 3`), []byte(`"time": 1`), 1)
	if bytes.Equal(weak, raw) {
		t.Fatal("test did not find the time parameter")
	}
	if err := os.WriteFile(path, weak, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Unlock(dir, []byte("correct horse")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("edited parameters: %v", err)
	}
	huge := bytes.Replace(raw, []byte(`"memory_kib": 64`), []byte(`"memory_kib": 4294967295`), 1)
	if err := os.WriteFile(path, huge, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Unlock(dir, []byte("correct horse")); err == nil || errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("out-of-bounds memory: %v", err)
	}
}

func TestGeneratedKey(t *testing.T) {
	dir := t.TempDir()
	k, err := CreateGenerated(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := Stat(dir)
	if !info.Generated {
		t.Fatal("a generated key is not reported as such")
	}
	k2, err := Unlock(dir, nil)
	if err != nil || !SameKey(k, k2) {
		t.Fatalf("unlock generated: %v", err)
	}
	if err := ChangePassphraseWithCost(dir, nil, []byte("now protected"), TestCost); err != nil {
		t.Fatal(err)
	}
	if info, _ := Stat(dir); info.Generated {
		t.Fatal("still generated after a passphrase was set")
	}
	k3, err := Unlock(dir, []byte("now protected"))
	if err != nil || !SameKey(k, k3) {
		t.Fatalf("unlock after protecting: %v", err)
	}
}

func TestSealedFile(t *testing.T) {
	k, _ := NewRandom()
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		plain := bytes.Repeat([]byte("canary "), size/7+1)[:size]
		var buf bytes.Buffer
		w, err := k.NewWriter(&buf, "export.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if size > 0 && bytes.Contains(buf.Bytes(), []byte("canary")) {
			t.Fatal("a sealed file holds plaintext")
		}
		got, err := k.OpenFile(bytes.NewReader(buf.Bytes()), "export.jsonl")
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: %d bytes, %v", size, len(got), err)
		}
		if _, err := k.OpenFile(bytes.NewReader(buf.Bytes()), "other.jsonl"); !errors.Is(err, ErrTampered) {
			t.Fatalf("size %d under another name: %v", size, err)
		}
		// Cut at every chunk boundary and mid-chunk: refused.
		for _, cut := range []int{len(fileMagic), buf.Len() - 1, len(fileMagic) + 4 + chunkSize + Overhead} {
			if cut >= buf.Len() {
				continue
			}
			if _, err := k.OpenFile(bytes.NewReader(buf.Bytes()[:cut]), "export.jsonl"); err == nil {
				t.Fatalf("size %d cut at %d: opened", size, cut)
			}
		}
	}
}

// The token cache changes no token: a word's token is the same when it is
// computed, when it is remembered, after the cache was emptied, and from
// another Keys of the same data key; long words bypass it.
func TestBlindCacheKeepsTokens(t *testing.T) {
	key := make([]byte, KeySize)
	key[0] = 7
	a, err := newKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newKeys(key)
	long := strings.Repeat("x", tokenCacheWord+1)
	first := map[string]string{}
	for i := range tokenCacheSize + 100 {
		w := fmt.Sprintf("w%d", i)
		first[w] = a.Blind(w)
	}
	for _, w := range []string{"w0", "w1", fmt.Sprintf("w%d", tokenCacheSize+99), long} {
		want := b.blindOf(w)
		if got := a.Blind(w); got != want || (first[w] != "" && first[w] != want) {
			t.Fatalf("Blind(%q) = %s, computed %s, first %s", w, got, want, first[w])
		}
	}
	if len(a.tokens) > tokenCacheSize {
		t.Fatalf("the cache holds %d tokens, over its bound %d", len(a.tokens), tokenCacheSize)
	}
	if _, ok := a.tokens[long]; ok {
		t.Fatal("a long word was cached")
	}
}

// BlindAll gives each word the token Blind gives it, in order and with
// repeats, whether the word is remembered, new, or too long to remember,
// and across the cache being emptied midway.
func TestBlindAllIsBlindOfEach(t *testing.T) {
	key := make([]byte, KeySize)
	key[0] = 9
	a, err := newKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newKeys(key)
	long := strings.Repeat("y", tokenCacheWord+1)
	a.Blind("w1") // one word remembered before
	words := []string{"w1", "w2", long, "w2", "w1", ""}
	for i := range tokenCacheSize + 10 {
		words = append(words, fmt.Sprintf("v%d", i%(tokenCacheSize/2+7)))
	}
	got := a.BlindAll(words)
	if len(got) != len(words) {
		t.Fatalf("%d tokens for %d words", len(got), len(words))
	}
	for i, w := range words {
		if want := b.blindOf(w); got[i] != want {
			t.Fatalf("word %d %q: token %s, want %s", i, w, got[i], want)
		}
	}
	if again := a.BlindAll(words[:6]); !slices.Equal(again, got[:6]) {
		t.Fatalf("remembered tokens %v, first %v", again, got[:6])
	}
	if len(a.tokens) > tokenCacheSize {
		t.Fatalf("the cache holds %d tokens, over its bound %d", len(a.tokens), tokenCacheSize)
	}
	if _, ok := a.tokens[long]; ok {
		t.Fatal("a long word was cached")
	}
}

// TestIsTempNamesWriteFileAtomicsFiles: IsTemp knows the temporary files
// WriteFileAtomic makes, of any file, and nothing else.
func TestIsTempNamesWriteFileAtomicsFiles(t *testing.T) {
	for name, want := range map[string]bool{
		".casefile.key.tmp123":              true,
		".casefile.db.starting.tmp9":        true,
		".unsent-2025.sealed.tmp4294967295": true,
		".casefile.key.tmp":                 false,
		"casefile.key.tmp1":                 false,
		".tmp1":                             false,
		".casefile.key.tmp1.bak":            false,
		".credentials-1":                    false,
	} {
		if IsTemp(name) != want {
			t.Errorf("IsTemp(%q) = %v", name, !want)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "note")
	if err := WriteFileAtomic(path, []byte("x")); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, tempPrefix("note")+"*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !IsTemp(filepath.Base(f.Name())) {
		t.Fatalf("IsTemp(%q) = false for the name WriteFileAtomic makes", filepath.Base(f.Name()))
	}
}

// TestChangePassphraseLeavesNoKeyTemp: a temporary key file a killed
// change left is wrapped by the passphrase that change was setting; the
// next change removes it, however young, so that passphrase opens
// nothing once it is changed again.
func TestChangePassphraseLeavesNoKeyTemp(t *testing.T) {
	dir := t.TempDir()
	if _, err := CreateWithCost(dir, []byte("first passphrase"), TestCost); err != nil {
		t.Fatal(err)
	}
	if err := ChangePassphraseWithCost(dir, []byte("first passphrase"), []byte("second passphrase"), TestCost); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "."+FileName+".tmp42")
	if err := os.WriteFile(left, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ChangePassphraseWithCost(dir, []byte("second passphrase"), []byte("third passphrase"), TestCost); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the key's temporary file outlived the change: %v", err)
	}
}
