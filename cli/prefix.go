package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"casefile/internal/safetext"
	"casefile/localdb"
	"casefile/model"
)

// minPrefix is the fewest characters of an id a command takes for it: any
// fewer would match half the device.
const minPrefix = 4

// idPrefix is what an abbreviated id may hold: its first characters.
var idPrefix = regexp.MustCompile(`^[0-9a-fA-F][0-9a-fA-F-]*$`)

// validRef reports whether s is an id or the start of one.
func validRef(s string) bool {
	return model.ValidID(s) || (len(s) >= minPrefix && len(s) < 36 && idPrefix.MatchString(s))
}

// resolveRecord expands a record id, or its first characters, to the one
// record of this device it names; an ambiguous start lists the records.
func resolveRecord(ctx context.Context, db *localdb.DB, s string) (string, error) {
	if model.ValidID(s) {
		return s, nil // a whole id: the command says if it is not here
	}
	id, err := db.ResolveID(ctx, s)
	var amb *localdb.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return "", ambiguous(db, amb, "record")
	case errors.Is(err, localdb.ErrNotFound):
		return "", fmt.Errorf("no record with an id starting %s on this device", s)
	}
	return id, err
}

// resolveOp expands a queued change's op id, or its first characters.
func resolveOp(ctx context.Context, db *localdb.DB, s string) (string, error) {
	if model.ValidID(s) {
		return s, nil
	}
	id, err := db.ResolveOpID(ctx, s)
	var amb *localdb.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return "", ambiguous(db, amb, "queued change")
	case errors.Is(err, localdb.ErrNoOp):
		return "", fmt.Errorf("no queued change with an id starting %s (run 'casefile queue' to list them): %w", s, localdb.ErrNoOp)
	}
	return id, err
}

// ambiguous says which ids an abbreviation could mean.
func ambiguous(db *localdb.DB, amb *localdb.AmbiguousError, what string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%q starts the id of more than one %s; give more of it:", amb.Prefix, what)
	for _, c := range amb.Candidates {
		fmt.Fprintf(&b, "\n  %s  %s", c.ID, strings.ReplaceAll(c.Collection, "_", " "))
		if col, ok := db.Schema().Collection(c.Collection); ok && c.Fields != nil {
			fmt.Fprintf(&b, " “%s”", safetext.Line(model.Record{ID: c.ID, Fields: c.Fields}.Title(col)))
		}
	}
	if amb.More {
		b.WriteString("\n  …and more")
	}
	return errors.New(b.String())
}

// resolveMatter finds a matter by its id, the start of its id, its title,
// or the start of its title (case aside); an ambiguous one lists the
// matters it could mean.
func resolveMatter(ctx context.Context, db *localdb.DB, s string) (string, error) {
	if s == "" {
		return "", errors.New("name a matter by its title or id")
	}
	col, ok := db.Schema().Collection(model.MatterCollection)
	if !ok {
		return "", errors.New("the schema has no matters")
	}
	if validRef(s) {
		if id, err := db.ResolveID(ctx, s); err == nil {
			rec, err := db.Get(ctx, id)
			if err == nil && rec.Collection == model.MatterCollection {
				return id, nil
			}
		}
	}
	matters, err := db.List(ctx, localdb.ListQuery{Collection: model.MatterCollection})
	if err != nil {
		return "", err
	}
	want := strings.ToLower(strings.TrimSpace(s))
	var exact, starts []model.Record
	for _, m := range matters {
		title := strings.ToLower(m.Title(col))
		switch {
		case title == want:
			exact = append(exact, m)
		case strings.HasPrefix(title, want):
			starts = append(starts, m)
		}
	}
	found := exact
	if len(found) == 0 {
		found = starts
	}
	switch len(found) {
	case 1:
		return found[0].ID, nil
	case 0:
		return "", fmt.Errorf("no matter titled %q or with an id starting so on this device (casefile list matter lists them)", safetext.Line(s))
	}
	slices.SortFunc(found, func(a, b model.Record) int { return strings.Compare(a.Title(col), b.Title(col)) })
	var b strings.Builder
	fmt.Fprintf(&b, "%q could be any of %d matters; give more of the title, or the id:", safetext.Line(s), len(found))
	for i, m := range found {
		if i == maxListed {
			b.WriteString("\n  …and more")
			break
		}
		fmt.Fprintf(&b, "\n  %s  “%s”", m.ID, safetext.Line(m.Title(col)))
	}
	return "", errors.New(b.String())
}

// maxListed is how many matters an ambiguous name lists.
const maxListed = 8
