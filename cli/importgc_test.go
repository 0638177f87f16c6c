package cli

import (
	"os"
	"runtime/debug"
	"testing"
)

// An import raises the collector's target while it runs and puts the one
// before back; a GOGC set by the person running casefile is left alone.
func TestImportGC(t *testing.T) {
	outside := debug.SetGCPercent(150)
	defer debug.SetGCPercent(outside)
	for _, tc := range []struct {
		name   string
		gogc   string // "" leaves GOGC unset
		during int
	}{
		{"GOGC unset", "", importGCPercent},
		{"GOGC set", "150", 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc) // restored when the test ends
			if tc.gogc == "" {
				os.Unsetenv("GOGC")
			}
			debug.SetGCPercent(150)
			restore := importGC()
			during := debug.SetGCPercent(150)
			debug.SetGCPercent(during)
			restore()
			after := debug.SetGCPercent(150)
			if during != tc.during || after != 150 {
				t.Fatalf("GC percent %d during the import, %d after; want %d and 150", during, after, tc.during)
			}
		})
	}
}
