package benchrun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/uuid"
)

// benchMatters is how many matters the notes of a push or import spread over.
const benchMatters = 50

// noteBody is ~420 characters, so that a note with its title, status and
// tags is about 500 bytes of fields, as the measurements used.
const noteBody = "Met the witness at the site office with the surveyor. She confirmed the " +
	"fence was moved in March, before the survey, and that the neighbour's contractor " +
	"did the work over two days. Photos of the posts and the old line are filed under " +
	"evidence; the surveyor will send the measured drawing by Friday. Follow up with the " +
	"clerk about the hearing date and ask opposing counsel for the contractor's invoice. " +
	"Next visit: bring the 2019 plan."

// writeNotes writes a JSON Lines file of benchMatters matters followed by
// n notes spread over them, for `casefile import`.
func writeNotes(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	matters := make([]string, benchMatters)
	for i := range matters {
		matters[i] = uuid.Must(uuid.NewV7()).String()
		if err := enc.Encode(map[string]any{"collection": "matter", "id": matters[i],
			"title": fmt.Sprintf("Boundary dispute %d", i), "status": "open"}); err != nil {
			return err
		}
	}
	for i := range n {
		if err := enc.Encode(map[string]any{"collection": "note", "matter_id": matters[i%benchMatters],
			"title": fmt.Sprintf("Site visit %d: fence line and survey", i), "body": noteBody,
			"status": "open", "tags": []string{"site", "witness"}}); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
