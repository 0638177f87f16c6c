package racetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPlainListed: every test that calls Plain is named in the Makefile's
// PLAIN_TESTS and its package in PLAIN_PKGS, so that make test runs it
// somewhere; and every name there is such a test, so that the list does
// not outlive what it names.
func TestPlainListed(t *testing.T) {
	root := filepath.Join("..", "..")
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	listed := makeVar(t, string(mk), "PLAIN_TESTS", "|")
	pkgs := makeVar(t, string(mk), "PLAIN_PKGS", " ")

	found := map[string]string{} // test name → package directory
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") || !callsPlain(fn.Body) {
				continue
			}
			dir, _ := filepath.Rel(root, filepath.Dir(path))
			found[fn.Name.Name] = "./" + filepath.ToSlash(dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("no test calls racetest.Plain: the walk found nothing, or the package is unused")
	}
	for name, dir := range found {
		if !slices.Contains(listed, name) {
			t.Errorf("%s (%s) calls racetest.Plain but is not in the Makefile's PLAIN_TESTS: make test would never run it", name, dir)
		}
		if !slices.Contains(pkgs, dir) {
			t.Errorf("%s calls racetest.Plain but its package %s is not in the Makefile's PLAIN_PKGS", name, dir)
		}
	}
	for _, name := range listed {
		if _, ok := found[name]; !ok {
			t.Errorf("the Makefile's PLAIN_TESTS names %s, which is no test that calls racetest.Plain", name)
		}
	}
}

// makeVar reads a Makefile variable set with := on one line, split by sep.
func makeVar(t *testing.T, mk, name, sep string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(.*)$`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("the Makefile sets no %s", name)
	}
	var out []string
	for _, v := range strings.Split(strings.TrimSpace(m[1]), sep) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// callsPlain reports whether body calls racetest.Plain.
func callsPlain(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Plain" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "racetest" {
					found = true
				}
			}
		}
		return !found
	})
	return found
}
