package apiclient

import (
	"encoding/json"
	"fmt"
	"testing"

	"casefile/model"
)

// BenchmarkEncodePush encodes a batch of 500 notes' creates whose fields
// come encoded, as the outbox holds them.
func BenchmarkEncodePush(b *testing.B) {
	ops := make([]PushOp, 500)
	for i := range ops {
		fields, err := json.Marshal(model.Fields{"matter_id": "01a24306-149a-7271-9b9c-eb09953e2d8e",
			"title": fmt.Sprintf("Site visit %d: fence line and survey", i), "status": "open", "tags": []string{"site", "witness"},
			"body": "Met the witness at the site office with the surveyor. She confirmed the fence was moved in March, before the survey, " +
				"and that the neighbour's contractor did the work over two days. Photos of the posts and the old line are filed."})
		if err != nil {
			b.Fatal(err)
		}
		ops[i] = PushOp{Op: model.Op{OpID: model.NewID(), RecordID: model.NewID(), Collection: "note", Kind: model.OpCreate},
			FieldsJSON: fields}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodePush(ops); err != nil {
			b.Fatal(err)
		}
	}
}
