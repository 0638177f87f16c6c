package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoEffectsInsideWrites: a store write's function may run more than
// once (a group commit runs it again after another request's failure, a
// lost connection begins it again) and may end rolled back, so what it
// does beyond the transaction — a line in the log, a count in the metrics,
// a poke to the event streams — belongs after the write has committed.
// The server's own writes are read here for such calls.
func TestNoEffectsInsideWrites(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	writes := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Write" {
				return true
			}
			for _, arg := range call.Args {
				fn, ok := arg.(*ast.FuncLit)
				if !ok {
					continue
				}
				writes++
				ast.Inspect(fn.Body, func(m ast.Node) bool {
					if c, ok := m.(*ast.CallExpr); ok {
						if what := effect(c.Fun); what != "" {
							t.Errorf("%s: %s inside a store write; do it once the write has committed", fset.Position(c.Pos()), what)
						}
					}
					return true
				})
			}
			return true
		})
	}
	if writes < 10 {
		t.Fatalf("found %d store writes in the server's files; the check no longer finds them", writes)
	}
}

// effect names a call that reaches outside the transaction: the server's
// log or metrics, or its event streams.
func effect(fun ast.Expr) string {
	path := selectorPath(fun)
	switch {
	case strings.HasPrefix(path, "s.log."):
		return "a log line (" + path + ")"
	case strings.HasPrefix(path, "s.metrics."):
		return "a metric (" + path + ")"
	case strings.HasPrefix(path, "s.hub."), strings.HasPrefix(path, "s.poke"):
		return "a poke (" + path + ")"
	}
	return ""
}

func selectorPath(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.SelectorExpr:
		return selectorPath(x.X) + "." + x.Sel.Name
	case *ast.Ident:
		return x.Name
	}
	return "?"
}
