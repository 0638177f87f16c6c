package localdb_test

import (
	"slices"
	"strings"
	"unicode"

	"pgregory.net/rapid"

	"casefile/model"
)

// searchWords are words of the value pools that begin no other word of
// them, so that a search for one (every word matches as a prefix) finds
// exactly the records holding it, sealed or not.
var searchWords = []string{"alpha", "beta", "gamma", "one", "two", "x", "y", "draft", "open", "review", "closed", "intake", "hold"}

// Search looks for one word, at any point of a history: after writes
// whose full-text entries wait in the search backlog, after pulls and
// answers, after a crash that left the backlog behind. It finds exactly
// the live records whose searchable fields hold the word.
func (sm *storeMachine) Search(t *rapid.T) {
	sm.checkSearch(t, rapid.SampledFrom(searchWords).Draw(t, "word"))
}

func (sm *storeMachine) checkSearch(t *rapid.T, word string) {
	got, err := sm.db.Search(ctx, word, -1)
	if err != nil {
		t.Fatalf("search %q: %v", word, err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	var want []string
	for _, id := range sortedKeys(sm.m.recs) {
		if r := sm.m.recs[id]; !r.deleted && holdsWord(sm.m.col(r.coll), r.fields, word) {
			want = append(want, id)
		}
	}
	t.Logf("> search %q: %d found", word, len(ids))
	if !slices.Equal(ids, want) {
		t.Fatalf("search %q found %v, want %v", word, ids, want)
	}
}

// holdsWord says whether a searchable field of fields has a word that
// begins with word, as the full-text tokenizer splits them.
func holdsWord(col *model.Collection, fields model.Fields, word string) bool {
	if col == nil {
		return false
	}
	for i := range col.Fields {
		f := &col.Fields[i]
		if !f.Searchable() {
			continue
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(model.Format(fields[f.Name])), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		}) {
			if strings.HasPrefix(w, word) {
				return true
			}
		}
	}
	return false
}
