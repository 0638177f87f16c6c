package cli

import (
	"context"
	"strings"
	"testing"

	"casefile/server"
	"casefile/server/servertest"
	"casefile/server/storetest"
)

// TestLeastPrivilegeRoles: a store already at this build's layout opens
// for roles that may not create anything in its schema. An application
// role that may only read and write rows opens the store and its file
// tables and serves pushes and pulls; a read-only role runs the admin
// commands that read (an auditor's audit verify). Every open used to run CREATE TABLE IF NOT
// EXISTS, which PostgreSQL refuses such roles even for a table that is
// there, so neither could start.
func TestLeastPrivilegeRoles(t *testing.T) {
	owner := storetest.PostgresURL(t)
	if code, _, errs := runMain(t, "s3cret-enough\n", "admin", "--database", owner, "user", "add", "alice", "--role", "admin"); code != 0 {
		t.Fatalf("user add as the owner: %s", errs)
	}
	app := storetest.PostgresAs(t, owner,
		"GRANT USAGE ON SCHEMA {schema} TO {role}",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
	srv := servertest.Start(t, func(o *server.Options) { o.DatabaseURL = app })
	bob := srv.NewUser(t, "bob", server.RoleMember)
	m := bob.CreateMatter(t, "Least privilege")
	note := bob.CreateNote(t, m.ID, "Written by the application role")
	page, err := bob.Pull(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 2 || page.Records[1].ID != note.ID {
		t.Fatalf("pull through the application role = %+v", page.Records)
	}

	auditor := storetest.PostgresAs(t, owner,
		"GRANT USAGE ON SCHEMA {schema} TO {role}",
		"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
	if code, out, errs := runMain(t, "", "admin", "--database", auditor, "audit", "verify"); code != 0 || !strings.Contains(out, "audit log OK") {
		t.Errorf("audit verify as a read-only role: exit %d, %s%s", code, out, errs)
	}
	if code, out, errs := runMain(t, "", "admin", "--database", auditor, "user", "list"); code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("user list as a read-only role: exit %d, %s%s", code, out, errs)
	}
}
