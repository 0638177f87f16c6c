package keep

import (
	"runtime"
	"testing"
)

// TestFewOutlivesCollections: what a Few keeps is there after garbage
// collections, which empty a sync.Pool; it keeps no more than it holds,
// and an empty one says so.
func TestFewOutlivesCollections(t *testing.T) {
	f := New[*[]byte](2)
	if _, ok := f.Get(); ok {
		t.Fatal("a new Few gave a value")
	}
	a, b, c := new([]byte), new([]byte), new([]byte)
	f.Put(a)
	f.Put(b)
	f.Put(c) // dropped: two fit
	runtime.GC()
	runtime.GC()
	got := map[*[]byte]bool{}
	for range 2 {
		v, ok := f.Get()
		if !ok {
			t.Fatal("a kept value went with the collections")
		}
		got[v] = true
	}
	if !got[a] || !got[b] {
		t.Fatalf("kept %v, want the first two put", got)
	}
	if _, ok := f.Get(); ok {
		t.Fatal("a third value was kept in a Few of two")
	}
}
