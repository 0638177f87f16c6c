package ui

import (
	"context"
	"testing"
	"time"

	"casefile/localdb/localdbtest"
	"casefile/model"
	"casefile/protocol"
)

// TestEditorMarksFieldsTheServerRefused (issue 10, schema drift): a note
// whose op a newer server refused opens in the editor with the refused
// field marked under it, and a field this device does not know named in
// the notice with what to do; a record without refusals opens unmarked.
func TestEditorMarksFieldsTheServerRefused(t *testing.T) {
	ctx := context.Background()
	db := localdbtest.Open(t)
	mt := mustCreate(t, db, "matter", model.Fields{"title": "Drift"})
	note := mustCreate(t, db, "note", model.Fields{model.MatterField: mt.ID, "title": "Hearing notes", "body": "the judge said"})
	other := mustCreate(t, db, "note", model.Fields{model.MatterField: mt.ID, "title": "Site visit"})
	ops, err := db.NextBatch(ctx, time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var results []protocol.OpResult
	for _, op := range ops {
		r := protocol.OpResult{OpID: op.OpID, Result: model.ResultApplied, Record: &protocol.Record{
			ID: op.RecordID, Collection: op.Collection, Version: 1, Fields: op.Fields, MatterID: mt.ID}}
		if op.RecordID == note.ID {
			r = protocol.OpResult{OpID: op.OpID, Result: model.ResultRejected, Code: protocol.CodeSchemaMismatch,
				Message: "note.court is required on the server; note.body is not a field on the server",
				Problems: []model.Problem{
					{Collection: "note", Field: "body", Kind: model.ProblemUnknownField},
					{Collection: "note", Field: "court", Kind: model.ProblemRequired},
				}}
		}
		results = append(results, r)
	}
	if err := db.ApplyPushResults(ctx, results); err != nil {
		t.Fatal(err)
	}

	m := newTestModel(t, Options{DB: db})
	rec, err := db.Get(ctx, note.ID)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, m, m.step(editMsg{collection: "note", rec: &rec}))
	if m.editor == nil {
		t.Fatal("the editor did not open")
	}
	errs := map[string]string{}
	for _, ff := range m.editor.fields {
		if ff.err != "" {
			errs[ff.f.Name] = ff.err
		}
	}
	if errs["body"] != rejectedText(model.ProblemUnknownField) || len(errs) != 1 {
		t.Fatalf("field errors = %v, want body marked as a field the server does not have", errs)
	}
	if f := m.editor.fields[m.editor.focus].f.Name; f != "body" {
		t.Errorf("the form opened on %s, want the refused body", f)
	}
	mustContain(t, screenText(m), "The server also needs court", "update Casefile")

	rec, err = db.Get(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, m, m.step(closeEditorMsg{}))
	drain(t, m, m.step(editMsg{collection: "note", rec: &rec}))
	for _, ff := range m.editor.fields {
		if ff.err != "" {
			t.Errorf("a note nobody refused opened with %s marked: %s", ff.f.Name, ff.err)
		}
	}
	if m.editor.notice != "" {
		t.Errorf("a note nobody refused opened with the notice %q", m.editor.notice)
	}
}
