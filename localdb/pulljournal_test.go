package localdb

import (
	"fmt"
	"testing"

	"casefile/model"
	"casefile/protocol"
)

// TestPullJournalsWhoChangedWhat checks that a pull page with a few
// changes journals each: the user who made it, the record, the fields it
// changed; a page with many gets one entry that counts them.
func TestPullJournalsWhoChangedWhat(t *testing.T) {
	db, m := openWithMatter(t)
	n := syncedNote(t, db, m, 2, model.Fields{"title": "Call the client", "body": "one"})
	rec := serverRecord(n, "note", m, 3, model.Fields{"matter_id": m, "title": "Call the client", "body": "two"})
	rec.UpdatedBy = "bob"
	pull(t, db, 3, rec)
	j := journalOf(t, db, n)
	if e := j[0]; e.Kind != JournalPull || e.Actor != "bob" || e.Summary != "changed body" || e.After["body"] != "two" || e.Before["body"] != "one" || e.Version != 3 {
		t.Fatalf("the pulled change's entry = %+v", e)
	}
	gone := serverRecord(n, "note", m, 4, nil)
	gone.Deleted, gone.UpdatedBy = true, "carol"
	pull(t, db, 4, gone)
	if e := journalOf(t, db, n)[0]; e.Actor != "carol" || e.Summary != "deleted it" || e.Before["title"] != "Call the client" {
		t.Fatalf("the pulled delete's entry = %+v", e)
	}

	var many []protocol.Record
	for i := range pullJournalEach + 1 {
		r := serverRecord(model.NewID(), "note", m, 1, model.Fields{"matter_id": m, "title": fmt.Sprint("n", i)})
		r.UpdatedBy = "bob"
		many = append(many, r)
	}
	pull(t, db, 100, many...)
	all, err := db.Journal(bg, JournalQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if all[0].Actor != actorSync || all[0].RecordID != "" || all[0].Summary != fmt.Sprintf("received %d record(s) from the server, %d changed here", pullJournalEach+1, pullJournalEach+1) {
		t.Fatalf("a big page's entry = %+v", all[0])
	}
}
