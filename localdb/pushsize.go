package localdb

import (
	"context"

	"casefile/model"
)

// resultEnvelope is what a push result adds to its record's fields as the
// server measures it: the op and record ids, version, sequence, who and
// when (some 300 bytes; protocol.AnswerAllowancePerOp).
const resultEnvelope = 512

// fitAnswer returns the first ops of ts whose results are expected to fit
// in answerBytes of a push's answer, at least one. A result carries its
// record whole, so an op counts the larger of its own fields and its
// record as this device holds it, which the server's copy mostly is. A
// create's record is its fields: only the other ops' records are looked
// up, in one statement, and a batch of creates costs an addition an op.
func fitAnswer(ctx context.Context, q querier, ts []opText, answerBytes int) ([]opText, error) {
	var ids []string
	for _, t := range ts {
		if t.Kind != model.OpCreate {
			ids = append(ids, t.RecordID)
		}
	}
	var held map[string]int
	if len(ids) > 0 {
		// A record whose values are still its create's journal entry's
		// (entryRef) counts that entry's text.
		rows, err := q.QueryContext(ctx, `SELECT r.id, COALESCE((SELECT length(j.after) FROM journal j WHERE j.seq = `+
			entryRefSeq("r.fields")+`), length(r.fields)) FROM records r WHERE r.id `+inIDs, idList(ids))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		held = make(map[string]int, len(ids))
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return nil, err
			}
			held[id] = n
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	total := 0
	for i, t := range ts {
		if total += max(len(t.fields.String), held[t.RecordID]) + resultEnvelope; total > answerBytes && i > 0 {
			return ts[:i], nil
		}
	}
	return ts, nil
}
