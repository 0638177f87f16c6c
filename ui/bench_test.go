package ui

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"casefile/localdb"
	"casefile/localdb/localdbtest"
	"casefile/model"
)

// benchRecords is the size of the big collection the UI must stay fast on.
const benchRecords = 100_000

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
	bigDir  string // removed by TestMain
)

// bigDB returns the path of a database holding benchRecords notes in one
// matter, built once per test binary.
func bigDB(b *testing.B) string {
	b.Helper()
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "casefile-ui-bench-")
		if bigErr != nil {
			return
		}
		bigPath = filepath.Join(bigDir, "casefile.db")
		ctx := context.Background()
		db, err := localdb.Open(ctx, bigPath, localdbtest.Schema(b))
		if err != nil {
			bigErr = err
			return
		}
		defer db.Close()
		mt, err := db.Create(ctx, "matter", "", model.Fields{"title": "Harbour Trust v. Pell"})
		if err != nil {
			bigErr = err
			return
		}
		words := []string{"caretaker", "sea wall", "drainage", "tide", "expert", "invoice", "hearing", "photos", "defence", "witness"}
		const batch = 5000
		for start := 0; start < benchRecords; start += batch {
			items := make([]localdb.ImportItem, batch)
			for i := range items {
				n := start + i
				items[i].Fields = model.Fields{"matter_id": mt.ID, "status": "open",
					"title": fmt.Sprintf("Note %06d about the %s", n, words[n%len(words)]),
					"body":  fmt.Sprintf("Observation %d: the %s and the %s.", n, words[n%7], words[n%3]),
					"tags":  []string{words[n%len(words)]}}
			}
			if bigErr = db.Import(ctx, "note", items); bigErr != nil {
				return
			}
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

// frame runs a message through the app and draws the frame it leads to,
// the work between a keypress and what the person sees. The commands it
// starts (database reads) run afterwards, outside the timing, as they run
// on their own goroutines in the real program.
func frame(m *Model, msg tea.Msg) (time.Duration, tea.Cmd) {
	start := time.Now()
	cmd := m.step(msg)
	_ = m.render()
	return time.Since(start), cmd
}

// settle runs commands and feeds their answers, timing each read.
func settle(b *testing.B, m *Model, cmd tea.Cmd, reads *[]time.Duration) {
	b.Helper()
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		start := time.Now()
		msg := c()
		if reads != nil {
			if _, ok := msg.(windowMsg); ok {
				*reads = append(*reads, time.Since(start))
			}
		}
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			if !isInternal(msg) {
				queue = append(queue, m.step(msg))
			}
		}
	}
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, int(float64(len(s))*p))
	return float64(s[i].Microseconds()) / 1000
}

func openBig(b *testing.B) *localdb.DB {
	b.Helper()
	db, err := localdb.Open(context.Background(), bigDB(b), localdbtest.Schema(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func benchModel(db *localdb.DB) *Model {
	m := New(Options{DB: db, Now: func() time.Time { return fixedNow }, Getenv: func(string) string { return "" }})
	m.sh.Tick = noTick
	m.step(tea.WindowSizeMsg{Width: 100, Height: 30})
	return m
}

// BenchmarkFirstFrame measures, over 100,000 local notes, the time from
// building the UI to a frame showing the header's counts and the list,
// and to the first frame of the 100,000-note list itself; and the
// process's memory once loaded.
func BenchmarkFirstFrame(b *testing.B) {
	db := openBig(b)
	var first, list []time.Duration
	for range max(b.N, 5) {
		start := time.Now()
		m := benchModel(db)
		settle(b, m, m.Init(), nil)
		if !strings.Contains(m.render(), "100,000") {
			b.Fatal("the first frame does not show the 100,000 notes")
		}
		first = append(first, time.Since(start))
		start = time.Now()
		settle(b, m, m.step(keyPress("right")), nil)
		settle(b, m, m.step(keyPress("right")), nil)
		if f := m.render(); !strings.Contains(f, "1 of 100,000") {
			b.Fatalf("the notes list is not drawn:\n%s", f)
		}
		list = append(list, time.Since(start))
	}
	b.ReportMetric(percentile(first, 0.5), "first_frame_ms")
	b.ReportMetric(percentile(list, 0.5), "open_100k_list_ms")
	b.ReportMetric(rssMB(), "rss_MB")
	b.ReportMetric(peakRSSMB(), "peak_rss_MB")
}

// BenchmarkScrollKeys measures keypress-to-frame while scrolling the
// 100,000-note list: single steps, pages, and jumps to either end.
func BenchmarkScrollKeys(b *testing.B) {
	db := openBig(b)
	m := benchModel(db)
	settle(b, m, m.Init(), nil)
	settle(b, m, m.step(keyPress("right")), nil)
	settle(b, m, m.step(keyPress("right")), nil)
	var frames, reads []time.Duration
	keys := []string{}
	for range 300 {
		keys = append(keys, "down")
	}
	for range 100 {
		keys = append(keys, "pgdown")
	}
	keys = append(keys, "G")
	for range 100 {
		keys = append(keys, "up")
	}
	keys = append(keys, "g")
	for range max(b.N, 1) {
		for _, k := range keys {
			d, cmd := frame(m, keyPress(k))
			frames = append(frames, d)
			settle(b, m, cmd, &reads)
		}
	}
	if m.records.list.cursor != 0 || m.records.list.Len() != benchRecords {
		b.Fatalf("cursor %d of %d after the run", m.records.list.cursor, m.records.list.Len())
	}
	b.ReportMetric(percentile(frames, 0.5), "key_p50_ms")
	b.ReportMetric(percentile(frames, 0.99), "key_p99_ms")
	b.ReportMetric(percentile(reads, 0.5), "window_read_p50_ms")
	b.ReportMetric(percentile(reads, 0.99), "window_read_p99_ms")
}

// BenchmarkFilterKeys measures keypress-to-frame while typing a search
// over the 100,000 notes, and the search query each pause runs.
func BenchmarkFilterKeys(b *testing.B) {
	db := openBig(b)
	m := benchModel(db)
	settle(b, m, m.Init(), nil)
	settle(b, m, m.step(keyPress("right")), nil)
	settle(b, m, m.step(keyPress("right")), nil)
	var frames, reads []time.Duration
	for range max(b.N, 1) {
		for _, word := range []string{"caretaker", "drainage", "note 0420", "wall tide", "witness"} {
			settle(b, m, m.step(keyPress("/")), nil)
			for _, r := range word {
				d, _ := frame(m, tea.KeyPressMsg{Code: r, Text: string(r)})
				frames = append(frames, d)
			}
			// The pause after typing: the debounced search runs.
			d, cmd := frame(m, searchTickMsg{seq: m.records.searchSeq})
			frames = append(frames, d)
			settle(b, m, cmd, &reads)
			if m.records.list.Len() == 0 {
				b.Fatalf("no match for %q", word)
			}
			d, cmd = frame(m, keyPress("esc"))
			frames = append(frames, d)
			settle(b, m, cmd, nil)
		}
	}
	b.ReportMetric(percentile(frames, 0.5), "key_p50_ms")
	b.ReportMetric(percentile(frames, 0.99), "key_p99_ms")
	b.ReportMetric(percentile(reads, 0.5), "search_read_p50_ms")
	b.ReportMetric(percentile(reads, 0.99), "search_read_p99_ms")
}

// rssMB is the resident memory of this process, from /proc (0 elsewhere).
func rssMB() float64 { return procStatusMB("VmRSS:") }

// peakRSSMB is the most resident memory this process has had.
func peakRSSMB() float64 { return procStatusMB("VmHWM:") }

func procStatusMB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkBacklogKeys opens the backlog with 100,000 saved-offline
// creates (an import waiting for the server) and scrolls it.
func BenchmarkBacklogKeys(b *testing.B) {
	db := openBig(b)
	m := benchModel(db)
	settle(b, m, m.Init(), nil)
	var frames, loads []time.Duration
	for range max(b.N, 1) {
		d, cmd := frame(m, keyPress("3"))
		frames = append(frames, d)
		start := time.Now()
		settle(b, m, cmd, nil)
		loads = append(loads, time.Since(start))
		if m.backlog.lay.counts[localdb.OpPending] < benchRecords {
			b.Fatalf("the backlog counts %d saved-offline ops", m.backlog.lay.counts[localdb.OpPending])
		}
		for _, k := range []string{"down", "down", "pgdown", "pgdown", "down", "up", "pgup"} {
			for range 20 {
				d, cmd := frame(m, keyPress(k))
				frames = append(frames, d)
				settle(b, m, cmd, nil)
			}
		}
		settle(b, m, m.step(keyPress("1")), nil)
	}
	b.ReportMetric(percentile(loads, 0.5), "open_backlog_ms")
	b.ReportMetric(rssMB(), "rss_MB")
	b.ReportMetric(peakRSSMB(), "peak_rss_MB")
	b.ReportMetric(percentile(frames, 0.5), "key_p50_ms")
	b.ReportMetric(percentile(frames, 0.99), "key_p99_ms")
}
