package cli

import (
	"os"
	"runtime/debug"
	"testing"
)

// An import or a sync raises the collector's target (and for a sync
// bounds the heap) while it runs, and puts back what was before; a GOGC or
// GOMEMLIMIT set by the person running casefile is left alone.
func TestRaiseGC(t *testing.T) {
	const outsidePercent, outsideLimit = 150, int64(1 << 40)
	defer debug.SetGCPercent(debug.SetGCPercent(outsidePercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(outsideLimit))
	for _, tc := range []struct {
		name          string
		env           map[string]string // "" leaves a variable unset
		percent       int
		limit         int64
		duringPercent int
		duringLimit   int64
	}{
		{"import, nothing set", nil, importGCPercent, 0, importGCPercent, outsideLimit},
		{"sync, nothing set", nil, syncGCPercent, syncMemoryLimit, syncGCPercent, syncMemoryLimit},
		{"sync, GOGC set", map[string]string{"GOGC": "150"}, syncGCPercent, syncMemoryLimit, outsidePercent, outsideLimit},
		{"sync, GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1TiB"}, syncGCPercent, syncMemoryLimit, outsidePercent, outsideLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
				t.Setenv(k, tc.env[k]) // restored when the test ends
				if tc.env[k] == "" {
					os.Unsetenv(k)
				}
			}
			debug.SetGCPercent(outsidePercent)
			debug.SetMemoryLimit(outsideLimit)
			restore := raiseGC(tc.percent, tc.limit)
			duringPercent, duringLimit := debug.SetGCPercent(outsidePercent), debug.SetMemoryLimit(-1)
			debug.SetGCPercent(duringPercent)
			restore()
			afterPercent, afterLimit := debug.SetGCPercent(outsidePercent), debug.SetMemoryLimit(-1)
			if duringPercent != tc.duringPercent || duringLimit != tc.duringLimit {
				t.Errorf("during: GC percent %d, memory limit %d; want %d and %d", duringPercent, duringLimit, tc.duringPercent, tc.duringLimit)
			}
			if afterPercent != outsidePercent || afterLimit != outsideLimit {
				t.Errorf("after: GC percent %d, memory limit %d; want %d and %d", afterPercent, afterLimit, outsidePercent, outsideLimit)
			}
		})
	}
}

// Raises that overlap, as commands run at once in one test process do,
// put back what was before the first once the last ends, whatever the
// order they end in.
func TestRaiseGCOverlapping(t *testing.T) {
	const outsidePercent, outsideLimit = 150, int64(1 << 40)
	defer debug.SetGCPercent(debug.SetGCPercent(outsidePercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(outsideLimit))
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	settings := func() (int, int64) {
		p := debug.SetGCPercent(outsidePercent)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1)
	}
	sync := raiseGC(syncGCPercent, syncMemoryLimit)
	imp := raiseGC(importGCPercent+100, 0)
	sync()
	if p, l := settings(); p != syncGCPercent || l != syncMemoryLimit {
		t.Errorf("with the import still running: GC percent %d, memory limit %d; want %d and %d", p, l, syncGCPercent, syncMemoryLimit)
	}
	sync() // a second call of one restore counts once
	if p, l := settings(); p != syncGCPercent || l != syncMemoryLimit {
		t.Errorf("after a restore called twice: GC percent %d, memory limit %d; want %d and %d", p, l, syncGCPercent, syncMemoryLimit)
	}
	imp()
	if p, l := settings(); p != outsidePercent || l != outsideLimit {
		t.Errorf("after both: GC percent %d, memory limit %d; want %d and %d", p, l, outsidePercent, outsideLimit)
	}
}
