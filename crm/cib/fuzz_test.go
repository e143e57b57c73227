package cib

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCIB checks that no input makes the parser panic and that what
// it accepts is internally consistent.
func FuzzParseCIB(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<cib><configuration/></cib>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data))
		if err != nil {
			if c != nil {
				t.Fatal("error with a non-nil result")
			}
			return
		}
		if c.Root == nil || c.Root.Name != "cib" {
			t.Fatal("accepted document without a cib root")
		}
		Walk(c.Resources, func(r *ResourceDef) {
			if r.ID == "" {
				t.Fatal("resource without id accepted")
			}
		})
		for _, ns := range c.NodeStates {
			for _, lr := range ns.Resources {
				for i := 1; i < len(lr.Ops); i++ {
					a, b := lr.Ops[i-1], lr.Ops[i]
					if a.CallID >= 0 && b.CallID >= 0 && a.CallID > b.CallID {
						t.Fatal("history not sorted by call-id")
					}
				}
			}
		}
	})
}
