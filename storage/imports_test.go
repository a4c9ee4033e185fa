package storage

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The query side (query/...) is built on storage: storage packages, and
// their tests, import none of it. The trace store is the TraceQL engine's
// fetcher (query/traceql.SpansetFetcher) without knowing TraceQL; what both
// sides share is in storage/record.
func TestStorageImportsNoQueryPackage(t *testing.T) {
	forbidden := modulePath(t) + "/query"
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if p == forbidden || strings.HasPrefix(p, forbidden+"/") {
				t.Errorf("storage/%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files: is the walk rooted at storage/?", checked)
	}
}

// modulePath reads the module path from go.mod, one directory up.
func modulePath(t *testing.T) string {
	f, err := os.Open(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	t.Fatal("no module line in go.mod")
	return ""
}
