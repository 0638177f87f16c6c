package syncer

import (
	"context"

	"casefile/apiclient"
	"casefile/model"
	"casefile/protocol"
)

// Remote is the /v1 API as the engine uses it. *apiclient.Client is the
// real one; the engine needs nothing else of HTTP.
type Remote interface {
	// Push sends a batch of ops and returns one result per op.
	Push(ctx context.Context, ops []model.Op) (protocol.PushResponse, error)
	// SendPush sends a push encoded by apiclient.EncodePush, naming the
	// client's pull cursor (see apiclient.Client.PushFrom).
	SendPush(ctx context.Context, p *apiclient.Push, cursor int64) (protocol.PushResponse, error)
	// PullThen fetches one page of changes after cursor, calling next when
	// the answer's headers name the page after it (see
	// apiclient.Client.PullThen).
	PullThen(ctx context.Context, cursor int64, limit int, mark int64, next func(apiclient.NextPage)) (protocol.PullResponse, error)
	// Health probes the server and returns its head; nil means it answers.
	Health(ctx context.Context) (int64, error)
	// Events opens the event stream, resuming after lastEventID.
	Events(ctx context.Context, lastEventID string) (*apiclient.Stream, error)
	// AnswerBytes is the bound on a push's results the server said last
	// (protocol.HeaderAnswerBytes); 0 until one has said it.
	AnswerBytes() int
}

var _ Remote = (*apiclient.Client)(nil)
