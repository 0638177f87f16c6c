package benchrun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

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

// noteWords are drawn at random for note bodies, so that the bodies
// compress as prose does rather than as one repeated text.
var noteWords = strings.Fields(noteBody + " hearing counsel client court filing deadline invoice plan boundary " +
	"witness statement exhibit bundle affidavit deposition adjourned settlement offer costs schedule surveyor " +
	"neighbour contractor fence posts measured drawing photos evidence clerk registry claim defence reply " +
	"disclosure expert report access gate drainage hedge trespass injunction damages mediation tuesday " +
	"monday wednesday thursday friday morning afternoon agreed disputed confirmed denied requested sent " +
	"received called emailed met visited reviewed drafted signed served filed listed")

// noteText is a body of about noteBody's length drawn from noteWords.
func noteText(rng *rand.Rand) string {
	var b strings.Builder
	for b.Len() < len(noteBody) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(noteWords[rng.IntN(len(noteWords))])
	}
	return b.String()
}

// writeNotes writes a JSON Lines file of benchMatters matters followed by
// n notes spread over them, for `casefile import`.
func writeNotes(path string, n int) error {
	f, err := os.Create(path) // #nosec G304 -- a file in the bench's own temporary directory
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
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		if err := enc.Encode(map[string]any{"collection": "note", "matter_id": matters[i%benchMatters],
			"title": fmt.Sprintf("Site visit %d: fence line and survey", i), "body": noteText(rng),
			"status": "open", "tags": []string{"site", "witness"}}); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
