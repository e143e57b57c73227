package coroconf

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse32Nodes parses the 32-node golden (parse, typing, totem
// read and validation) with a fixed environment.
func BenchmarkParse32Nodes(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(confDir, "nodelist-32.conf"))
	if err != nil {
		b.Fatal(err)
	}
	env := fuzzEnv()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("nodelist-32.conf", data, env); err != nil {
			b.Fatal(err)
		}
	}
}
