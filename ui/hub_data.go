package ui

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/model"
)

// hubSectionRows is how many records of each collection the matter hub
// shows; a "more" row opens the whole list.
const hubSectionRows = 8

// hubSortCap bounds the records of one matter read to sort a section by
// date (hearings, tasks): a matter holds far fewer. A variable so a test
// can go past it without writing thousands of records.
var hubSortCap = 5000

// hubOrder is the order of the hub's sections, as people ask about a
// matter; collections not named here follow in schema order.
var hubOrder = []string{"note", model.TaskCollection, model.HearingCollection, "document", "contact", model.TimeCollection}

// hubSection is one collection's part of the matter hub.
type hubSection struct {
	col   *model.Collection
	count int
	recs  []model.Record
}

// hubMsg answers loadHub.
type hubMsg struct {
	id       int
	matter   model.Record
	sections []hubSection
	time     model.TimeTotal
	days     []model.TimeTotal // by day worked on, in day order
	err      error
}

// hubCollections are the collections a matter holds, in hub order.
func hubCollections(s *model.Schema) []*model.Collection {
	var out []*model.Collection
	for _, name := range hubOrder {
		if c, ok := s.Collection(name); ok && !c.Hidden {
			out = append(out, c)
		}
	}
	for _, c := range s.Listed() {
		if c.Name != model.MatterCollection && !slices.Contains(hubOrder, c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// loadHub reads a matter, the count and first records of each
// collection it holds (hearings and tasks by date) and its time total.
func loadHub(db *localdb.DB, cols []*model.Collection, matterID string, now time.Time, zone *time.Location, id int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		msg := hubMsg{id: id}
		msg.matter, msg.err = db.Get(ctx, matterID)
		if msg.err != nil {
			return msg
		}
		for _, c := range cols {
			q := localdb.ListQuery{Collection: c.Name, MatterID: matterID}
			sec := hubSection{col: c}
			if sec.count, msg.err = db.Count(ctx, q); msg.err != nil {
				return msg
			}
			switch c.Name {
			case model.HearingCollection, model.TaskCollection, model.TimeCollection:
				limit := hubSortCap
				if c.Name == model.TimeCollection {
					limit = math.MaxInt // the total counts every entry
				}
				all, err := readAll(ctx, db, q, limit)
				if err != nil {
					msg.err = err
					return msg
				}
				if c.Name == model.TimeCollection {
					for _, r := range all {
						msg.time.Add(r)
					}
					msg.days = model.TimeTotals(all, model.ByDay)
				} else {
					sortByWhen(all, now, zone)
				}
				sec.recs = all[:min(len(all), hubSectionRows)]
			default:
				q.Limit = hubSectionRows
				if sec.recs, msg.err = db.List(ctx, q); msg.err != nil {
					return msg
				}
			}
			msg.sections = append(msg.sections, sec)
		}
		return msg
	}
}

// readAll reads the records of a query a page at a time, at most limit.
func readAll(ctx context.Context, db *localdb.DB, q localdb.ListQuery, limit int) ([]model.Record, error) {
	page := min(localdb.ReadPage, limit)
	q.Offset, q.Limit, q.After = 0, page, nil
	var out []model.Record
	for len(out) < limit {
		recs, err := db.List(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if len(recs) < page {
			break
		}
		last := localdb.KeyOf(recs[len(recs)-1])
		q.After = &last
	}
	return out[:min(len(out), limit)], nil
}

// sortByWhen orders a matter's hearings and tasks as people look for
// them: hearings from today on first, soonest first, then past ones,
// latest first; tasks still to do by due day (none last), then done ones.
func sortByWhen(recs []model.Record, now time.Time, zone *time.Location) {
	today := now.In(zone).Format(time.DateOnly)
	key := func(r model.Record) (group int, when string) {
		switch r.Collection {
		case model.HearingCollection:
			s, _ := r.Fields[model.HearingStarts].(string)
			t, err := model.ParseDateTime(s)
			switch {
			case err != nil:
				return 2, ""
			case t.In(zone).Format(time.DateOnly) >= today:
				return 0, t.UTC().Format(time.RFC3339)
			}
			return 1, t.UTC().Format(time.RFC3339)
		case model.TaskCollection:
			if done, _ := r.Fields[model.TaskDone].(bool); done {
				return 2, ""
			}
			if d, _ := r.Fields[model.TaskDue].(string); d != "" {
				return 0, d
			}
			return 1, ""
		}
		return 0, ""
	}
	slices.SortStableFunc(recs, func(a, b model.Record) int {
		ga, wa := key(a)
		gb, wb := key(b)
		if ga != gb {
			return cmp.Compare(ga, gb)
		}
		if ga == 1 && a.Collection == model.HearingCollection {
			return cmp.Compare(wb, wa) // past hearings: latest first
		}
		return cmp.Compare(wa, wb)
	})
}
