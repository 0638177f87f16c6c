package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// stats counts what a run executed, by name: "writes", "syncs",
// "fault: drop", "left failed: not_found"…
type stats struct {
	mu sync.Mutex
	n  map[string]int
}

func newStats() *stats { return &stats{n: map[string]int{}} }

func (s *stats) inc(key string, d int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[key] += d
}

func (s *stats) get(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[key]
}

// max keeps the largest value seen under key; names starting with
// "slowest" are maxima, not counts, when runs are merged.
func (s *stats) max(key string, v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[key] = max(s.n[key], v)
}

// merge adds another run's counts.
func (s *stats) merge(o *stats) {
	o.mu.Lock()
	counts := maps.Clone(o.n)
	o.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range counts {
		if strings.HasPrefix(k, "slowest") {
			s.n[k] = max(s.n[k], v)
			continue
		}
		s.n[k] += v
	}
}

func (s *stats) MarshalJSON() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(s.n)
}

func (s *stats) UnmarshalJSON(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Unmarshal(b, &s.n)
}

// componentFaults are the faults made by stopping or changing components
// rather than by the proxy.
var componentFaults = []string{"crashes", "restarts", "revokes", "token revokes", "device revocations", "offline", "workOffline"}

// faultTotal counts every fault injected: per request, and by stopping
// components.
func (s *stats) faultTotal() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.n {
		if strings.HasPrefix(k, "fault: ") || slices.Contains(componentFaults, k) {
			n += v
		}
	}
	return n
}

// prefixed lists the counts whose names start with prefix.
func (s *stats) prefixed(prefix string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(s.n)) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, fmt.Sprintf("%s %d", strings.TrimPrefix(k, prefix), s.n[k]))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// summary is the line a run ends with.
func (s *stats) summary() string {
	total := s.faultTotal()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n
	return fmt.Sprintf("%d scenarios (%d failed), %d clients, %d local writes (%d refused locally), %d sync cycles; "+
		"matters deleted with their records %d; %d faults — per request: %s; crashes %d, server restarts %d, offline periods %d, work-offline periods %d, revokes %d, tokens revoked while streaming %d, devices revoked and wiped %d (unsent ops exported %d); "+
		"grants %d, event streams %d; conflicts %d (resolved %d); rejected ops %d (retried %d, retries refused %d, discarded %d; "+
		"left failed after quiescing: %s); compactions %d (answers %d, tombstones %d compacted; full resyncs seen %d); "+
		"crawling answers read whole %d (pull pages the cursor passed %d; cut by a busy machine %d; no longer wanted %d; given up by a starved device %d; written whole, not read whole by a starved device %d); sync contract: %s; "+
		"slowest clean exchange %d ms (request timeout %v); files: %s; undo: %s; push batches taken while the one before was on the server %d; pull pages asked from the headers of the one before %d",
		n["scenarios"], n["failed scenarios"], n["clients"], n["writes"], n["refused"], n["syncs"],
		n["matters deleted with their records"], total, s.prefixed("fault: "), n["crashes"], n["restarts"], n["offline"], n["workOffline"], n["revokes"], n["token revokes"], n["device revocations"], n["device revocations: unsent ops exported"],
		n["grants"], n["streams"], n["conflicts"], n["resolutions"], n["rejected"], n["retries"], n["refused retries"], n["discards"],
		s.prefixed("left failed: "), n["compactions"], n["compacted answers"], n["compacted tombstones"], n["full resyncs"],
		n["crawled answers read whole"], n["crawled pull pages the cursor passed"], n["crawling answers cut by a busy machine"], n["crawling answers the device no longer wanted"], n["crawling answers given up by a device starved of a core"], n[statCrawlUnread], s.prefixed("contract: "),
		n["slowest clean exchange (ms)"], requestTimeout, s.prefixed("files "), s.prefixed("undo: "), n[statOverlapped], n[statPulledAhead])
}

// statOverlapped counts the push batches a device took while the batch
// before was on the server (syncer.Summary.Overlapped): the scenarios
// must draw that overlap, or they prove nothing of it.
const statOverlapped = "pushes overlapped"

// statPulledAhead counts the pull pages a device asked for from the
// headers of the answer before them (syncer.Summary.PulledAhead): the
// scenarios must draw it too.
const statPulledAhead = "pulls ahead"

// statShortPages counts the pull pages that stopped at the server's byte
// budget before the limit their device asked for (world.pullPageBytes):
// the scenarios must draw them too, or they prove nothing of short pages.
const statShortPages = "contract: pull pages cut short by the server's byte budget"

// statAnswerTooLarge counts the pushes the server refused because their
// answer would pass its bound (world.pushAnswerBytes): the scenarios must
// draw them too, or they prove nothing of the refusal and the split.
const statAnswerTooLarge = "contract: pushes refused as answer_too_large"

// statCrawlUnread counts the pull pages the link wrote whole and the
// device did not read whole: its last bytes waited in the socket for a
// device that had given up on the page (link.takeCrawl).
const statCrawlUnread = "crawling answers written whole the device did not read whole"

// statArrivalsAuditedLate counts the files whose arrival compaction
// audited (server.AuditArrivals), their audit row having failed after
// their commit (arrivalFaults): the scenarios must draw them.
const statArrivalsAuditedLate = "files whose arrival compaction audited"

// statAnswerTooLargeQuiet counts those of them a device got through a
// link that drops the bound from answers (link.quietBound): the scenarios
// must draw refusals that name the bound (the device takes the batch again
// by it) and refusals that do not (the device splits it in halves).
const statAnswerTooLargeQuiet = "contract: pushes refused as answer_too_large by a server that did not say its bound"
