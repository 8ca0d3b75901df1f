package privfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Runs only on Windows (CI vets it with GOOS=windows go vet): a directory
// made private passes the private list to a file created inside it, as
// bbolt's database file is.
func TestRestrictedDirPassesItsListOn(t *testing.T) {
	dir := t.TempDir()
	if problem, err := Check(dir); err != nil {
		t.Fatal(err)
	} else if problem == "" {
		t.Log("the temp dir was already private")
	}
	if err := Restrict(dir); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "exekra.db")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, f} {
		if problem, err := Check(p); err != nil || problem != "" {
			t.Errorf("Check(%s) = %q, %v", p, problem, err)
		}
	}
}
