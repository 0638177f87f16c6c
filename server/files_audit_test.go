package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"casefile/model"
	"casefile/protocol"
	"casefile/server/servertest"
)

// An attachment's life is in the audit chain: its create (the record),
// the upload finished (who sent which bytes, by hash and size, once even
// when the last answer is asked for again), and its delete; the chain
// still verifies.
func TestFileEventsInAuditChain(t *testing.T) {
	w := newWorld(t, startSQLite)
	ctx := context.Background()
	data := randomData(t, model.ChunkSize+10)
	id := attach(t, w.alice, w.m.ID, data)
	upload(t, w.alice, id, data, 0, 1)
	// The status asked again after the upload finished writes nothing more.
	if code, body, _ := fileCall(t, w.alice, http.MethodGet, protocol.PathFileUpload, id, -1, nil, ""); code != http.StatusOK {
		t.Fatalf("status after the upload: %d %s", code, body)
	}
	res := w.alice.PushOne(t, servertest.Delete(&protocol.Record{ID: id, Collection: model.AttachmentCollection, Version: 1}))
	if res.Result != model.ResultApplied {
		t.Fatalf("delete the attachment: %+v", res)
	}
	rows, err := w.srv.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.Target == model.AttachmentCollection+"/"+id {
			got = append(got, r.Action+" by "+r.Actor+" "+r.After)
		}
	}
	want := fmt.Sprintf("file_uploaded by alice sha256:%s size:%d", sumOf(data), len(data))
	if len(got) != 3 || got[0][:len("create by alice")] != "create by alice" || got[1] != want || got[2][:len("delete by alice")] != "delete by alice" {
		t.Fatalf("the attachment's audit rows: %q", got)
	}
	rep, err := w.srv.VerifyAudit(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v, %v", rep, err)
	}
}
