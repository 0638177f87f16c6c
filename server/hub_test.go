package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"casefile/server/store"
)

// TestHubHandsHintsOnInOrder: hints handed to the hub reach a stream in
// the order they were handed, and handing one never waits for the hub:
// the committing goroutine goes on while the streams are served.
func TestHubHandsHintsOnInOrder(t *testing.T) {
	h := newHub()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { h.dispatch(ctx) })
	defer func() {
		cancel()
		wg.Wait()
	}()
	sub, ok := h.subscribe("ann", "token", "", DefaultStreamsPerToken, DefaultStreamsPerUser)
	if !ok {
		t.Fatal("subscribe refused")
	}
	h.mu.Lock() // the hub is busy handing out an earlier hint
	handed := make(chan struct{})
	go func() {
		for seq := int64(1); seq <= streamHintBuffer; seq++ {
			h.hand(store.Hint{Seq: seq, MatterID: "m"})
		}
		close(handed)
	}()
	select {
	case <-handed:
	case <-time.After(10 * time.Second):
		t.Fatal("handing a hint waited for the hub")
	}
	h.mu.Unlock()
	var got []store.Hint
	for deadline := time.Now().Add(10 * time.Second); len(got) < streamHintBuffer; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d hints reached the stream", len(got), streamHintBuffer)
		}
		hints, lost := sub.take()
		if lost {
			t.Fatal("hints were lost")
		}
		got = append(got, hints...)
	}
	for i, h := range got {
		if h.Seq != int64(i+1) {
			t.Fatalf("hint %d reached the stream as number %d", h.Seq, i+1)
		}
	}
}
