package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Service is a server that answers on a listener until closed;
// *server.Server is one.
type Service interface {
	Serve(ln net.Listener) error
	Close() error
}

// Restarter keeps a service on one address of 127.0.0.1 across stops and
// starts, as when a server process is restarted: Stop closes it (clients
// see connections refused), Start opens a new one on the same address.
type Restarter struct {
	Addr string // host:port
	URL  string // http://host:port

	open func() (Service, error)

	mu   sync.Mutex
	svc  Service
	done chan struct{}
}

// NewRestarter starts the service open returns on a free port of 127.0.0.1.
func NewRestarter(open func() (Service, error)) (*Restarter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &Restarter{Addr: addr, URL: "http://" + addr, open: open}
	return r, r.Start()
}

// Service returns the running service, or nil while stopped.
func (r *Restarter) Service() Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.svc
}

// Start opens a new service on the address; it does nothing when one runs.
func (r *Restarter) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.svc != nil {
		return nil
	}
	svc, err := r.open()
	if err != nil {
		return fmt.Errorf("faultproxy: open service: %w", err)
	}
	var ln net.Listener
	// The port was just released; on a busy machine it may linger briefly.
	for range 100 {
		if ln, err = net.Listen("tcp", r.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("faultproxy: listen again on %s: %w", r.Addr, err), svc.Close())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Serve(ln) //nolint:errcheck // returns when closed
	}()
	r.svc, r.done = svc, done
	return nil
}

// Stop closes the service and waits for it; it does nothing when stopped.
func (r *Restarter) Stop() error {
	r.mu.Lock()
	svc, done := r.svc, r.done
	r.svc, r.done = nil, nil
	r.mu.Unlock()
	if svc == nil {
		return nil
	}
	err := svc.Close()
	<-done
	return err
}
