package coroconf

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzEnv answers every outside question without touching the machine.
func fuzzEnv() *Env {
	return &Env{
		Hostname:    "rfhost",
		LocalAddrs:  []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.18.0.1")},
		Resolve:     func(string) []netip.Addr { return nil },
		LookupUser:  func(string) (uint32, bool) { return 0, false },
		LookupGroup: func(string) (uint32, bool) { return 0, false },
		NoUidgidDir: true,
		AuthKeyPath: "/nonexistent/authkey",
		ReadFile:    func(string) ([]byte, error) { return nil, os.ErrNotExist },
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(confDir, "*.conf"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a{\n:{\n: x\n}\n}\n"))
	f.Add([]byte("totem {\n\tinterface {\n\t\tmember {\n\t\t\tmemberaddr: 1.2.3.4\n\t\t}\n\t}\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.conf", data, fuzzEnv())
		if err == nil {
			if cfg == nil || len(cfg.Entries) == 0 {
				t.Fatal("accepted without keys")
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("not an *Error: %v", err)
		}
		msg := err.Error()
		prefix := "fuzz.conf:" + strconv.Itoa(ce.Line) + ": "
		if ce.Line < 1 || !strings.HasPrefix(msg, prefix) || strings.Contains(msg, "\n") || ce.Msg == "" {
			t.Fatalf("error is not a one-line file:line message: %q", msg)
		}
		if ce.Exit != 7 && ce.Exit != 8 {
			t.Fatalf("exit status %d", ce.Exit)
		}
	})
}
