package proof

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"casefile/protocol"
	"casefile/server/servertest"
)

// stream is an open event stream and everything it received.
type stream struct {
	user string
	mu   sync.Mutex
	text strings.Builder
	err  error
}

func openStream(ctx context.Context, c *servertest.Client) *stream {
	s := &stream{user: c.User}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+protocol.PathEvents, nil)
	if err != nil {
		s.err = err
		return s
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.err = err
		return s
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		s.err = fmt.Errorf("events: HTTP %d", resp.StatusCode)
		return s
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.mu.Lock()
			s.text.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	return s
}

// check: a stream carries pokes and comments only, and a poke only a
// sequence — never anything of a record.
func (s *stream) check(o *oracle) error {
	if s.err != nil {
		return fmt.Errorf("%s's stream: %w", s.user, s.err)
	}
	s.mu.Lock()
	text := s.text.String()
	s.mu.Unlock()
	for _, line := range strings.Split(text, "\n") {
		field, value, _ := strings.Cut(line, ":")
		switch field {
		case "", "retry", "id", "event":
			if field == "event" && strings.TrimSpace(value) != "poke" {
				return fmt.Errorf("%s's stream sent event %q", s.user, value)
			}
		case "data":
			var poke map[string]any
			if err := json.Unmarshal([]byte(value), &poke); err != nil || len(poke) != 1 || poke["seq"] == nil {
				return fmt.Errorf("%s's stream sent data %q, not a poke", s.user, value)
			}
		default:
			return fmt.Errorf("%s's stream sent line %q", s.user, line)
		}
	}
	if leak := o.leak(s.user, text); leak != "" {
		return fmt.Errorf("%s's stream reveals %q", s.user, leak)
	}
	return nil
}
