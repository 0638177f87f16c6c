package benchrun

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres measures S6: S2 and S3 on the PostgreSQL store, then S5 with
// two replicas on one database. Each part uses a schema of its own.
func (b *bench) postgres(ctx context.Context, dir string) (map[string]float64, error) {
	dsn, drop, err := b.pgSchema(ctx)
	if err != nil {
		return nil, err
	}
	defer drop()
	store := []string{"--database", dsn}
	m, err := map[string]float64(nil), error(nil)
	m, err = b.pushPull(ctx, dir, b.opts.Notes, store, "push_", "pull_")
	if err != nil {
		return nil, err
	}
	dsn2, drop2, err := b.pgSchema(ctx)
	if err != nil {
		return nil, err
	}
	defer drop2()
	store = []string{"--database", dsn2}
	st, err := b.streams(ctx, dir, store, store, store)
	if err != nil {
		return nil, err
	}
	for k, v := range st {
		m["replicas2_"+k] = v
	}
	return m, nil
}

// pgSchema creates a schema of its own for one run and returns the URL
// that uses it and a function that drops it.
func (b *bench) pgSchema(ctx context.Context) (string, func(), error) {
	conn, err := pgx.Connect(ctx, b.opts.Postgres)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	name := fmt.Sprintf("casefile_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(b.opts.Postgres)
	if err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP SCHEMA "+name+" CASCADE")
		conn.Close(context.WithoutCancel(ctx))
	}, nil
}
