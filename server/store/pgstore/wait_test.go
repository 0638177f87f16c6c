package pgstore_test

import (
	"time"

	"casefile/server/store"
)

// waitABit returns when a hint is ready or a short while has passed.
func waitABit(ch chan store.Hint) {
	select {
	case h := <-ch:
		ch <- h
	case <-time.After(20 * time.Millisecond):
	}
}
