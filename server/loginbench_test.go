package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// floodLogins is the size of the bogus-login burst: each from a loopback
// address of its own, as a botnet's would be, so the per-address failure
// limit does not stop them and only the password-check bound does.
const floodLogins = 100

// BenchmarkLoginFlood sends 100 concurrent logins for unknown users to a
// server running as its own process, with the default argon2id cost, and
// reports the server's peak RSS growth over its idle RSS (target: under
// 200 MB) and its RSS once the burst is over. "ungated" lifts the bound on
// concurrent password checks to show what it prevents.
func BenchmarkLoginFlood(b *testing.B) {
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"gated", nil},
		{"ungated", []string{envProcLoginConc + "=1000"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				loginFlood(b, c.env)
			}
		})
	}
}

func loginFlood(b *testing.B, env []string) {
	url, pid := serverProcess(b, env...)
	idle := procStatus(b, pid, "VmRSS")
	statuses := make([]int, floodLogins)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range floodLogins {
		hc := from(fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := fmt.Sprintf(`{"user":"ghost%d","password":"guess %d","device":"bot"}`, i, i)
			resp, err := hc.Post(url+"/v1/login", "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(t0)
	peak := procStatus(b, pid, "VmHWM")
	after := lowest(8*time.Second, func() float64 { return procStatus(b, pid, "VmRSS") })
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	b.ReportMetric(idle, "idle-rss-MB")
	b.ReportMetric(peak-idle, "peak-growth-MB")
	b.ReportMetric(after-idle, "after-growth-MB")
	b.ReportMetric(float64(counts[http.StatusUnauthorized]), "answered-401")
	b.ReportMetric(float64(counts[http.StatusTooManyRequests]), "answered-429")
	b.ReportMetric(took.Seconds(), "burst-s")
}
