package httpd

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestHandlersAskTyped checks that no handler asks the core untyped: every
// command goes through messages.Ask or messages.AskTimeout, which type the
// reply by the command's declared one (messages/command.go), so the
// compiler checks what a handler does with it.
func TestHandlersAskTyped(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Ask" && sel.Sel.Name != "AskTimeout") {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "messages" {
				return true
			}
			t.Errorf("%s: an untyped %s: use messages.%s", fset.Position(call.Pos()), sel.Sel.Name, sel.Sel.Name)
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("only %d files checked", checked)
	}
}
