package syncer

import (
	"casefile/apiclient"
	"context"
	"errors"
	"testing"
)

func TestLinkStates(t *testing.T) {
	unreachable := &apiclient.Error{Class: apiclient.ClassUnreachable}
	failing := &apiclient.Error{Class: apiclient.ClassFailing}
	permanent := &apiclient.Error{Class: apiclient.ClassPermanent}
	unauthorized := &apiclient.Error{Class: apiclient.ClassUnauthorized}
	type step struct {
		name string
		do   func(l *link) (Connectivity, bool)
		want Connectivity
	}
	steps := []step{
		{"exchange starts", (*link).begin, Syncing},
		{"it fails to connect", func(l *link) (Connectivity, bool) { return l.end(unreachable) }, Offline},
		{"probe still fails", func(l *link) (Connectivity, bool) { return l.observe(unreachable) }, Offline},
		{"probe answers", func(l *link) (Connectivity, bool) { return l.observe(nil) }, Online},
		{"exchange starts", (*link).begin, Syncing},
		{"server answers 503", func(l *link) (Connectivity, bool) { return l.end(failing) }, Degraded},
		{"exchange starts", (*link).begin, Syncing},
		{"a permanent refusal still proves the link", func(l *link) (Connectivity, bool) { return l.end(permanent) }, Online},
		{"local errors say nothing", func(l *link) (Connectivity, bool) { return l.observe(errors.New("disk full")) }, Online},
		{"cancellation says nothing", func(l *link) (Connectivity, bool) { return l.observe(context.Canceled) }, Online},
		{"work offline", func(l *link) (Connectivity, bool) { return l.setWorkOffline(true) }, WorkOffline},
		{"outcomes hide under work offline", func(l *link) (Connectivity, bool) { return l.observe(unreachable) }, WorkOffline},
		{"work online again", func(l *link) (Connectivity, bool) { return l.setWorkOffline(false) }, Offline},
		{"token refused", func(l *link) (Connectivity, bool) { return l.observe(unauthorized) }, LoggedOut},
		{"a health probe does not log back in", func(l *link) (Connectivity, bool) { return l.observe(nil) }, LoggedOut},
		{"new credentials", func(l *link) (Connectivity, bool) { return l.setLoggedOut(false) }, Online},
	}
	l := newLink()
	prev := l.state()
	for _, s := range steps {
		got, changed := s.do(l)
		if got != s.want {
			t.Fatalf("%s: state = %s, want %s", s.name, got, s.want)
		}
		if changed != (got != prev) {
			t.Errorf("%s: changed = %v going %s → %s", s.name, changed, prev, got)
		}
		prev = got
	}
	if l.allowed() != true {
		t.Errorf("traffic not allowed at the end")
	}
	l.setWorkOffline(true)
	if l.allowed() {
		t.Errorf("traffic allowed while working offline")
	}
}
