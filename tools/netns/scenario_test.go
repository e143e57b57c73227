package netns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const scenarioDir = "../../testdata/netns"

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in %s (%v)", scenarioDir, err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := ParseScenario(path, f)
			if err != nil {
				t.Fatal(err)
			}
			needDaemon(t)
			c := NewCluster(t, s.Hosts, Options{})
			if err := s.Run(c, t.Logf); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseScenarioErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":                                  "empty scenario",
		"start 1":                           ":1: first step must be",
		"hosts 3\nhosts 3":                  ":2: hosts given twice",
		"hosts 0":                           "bad host count",
		"hosts 3\nstart 4":                  ":2: start needs host numbers",
		"hosts 3\nkill":                     "kill needs host numbers",
		"hosts 3\nblock 1 1":                "two different hosts",
		"hosts 3\nexpect 1 2 within 1s":     "expect HOSTS = MEMBERS",
		"hosts 3\nexpect = 1 within 1s":     "expect HOSTS = MEMBERS",
		"hosts 3\nexpect 1 = 1 within soon": "bad duration",
		"hosts 3\ndaemon token=x":           "bad token",
		"hosts 3\ndaemon transport=knet":    "want udpu or udp",
		"hosts 3\ndaemon crypto":            "not key=value",
		"hosts 3\nfrobnicate 1":             "unknown step",
		"hosts 3\nsleep -1s":                "bad duration",
		"hosts 3\nloss 5 1":                 "bad loss",
		"hosts 3\nloss 101% 1":              "bad loss",
		"hosts 3\nloss 5%":                  "needs an amount and host numbers",
		"hosts 3\nloss 5% 4":                "bad host",
		"hosts 3\ndelay soon 1":             "bad delay",
	} {
		_, err := ParseScenario("x.txt", strings.NewReader(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
	s, err := ParseScenario("ok.txt", strings.NewReader("# c\nhosts 2\ndaemon token=3000\nstart 1 2 # both\nexpect 1 2 = 1 2 within 5s\nblock 1 2\nsleep 10ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Hosts != 2 || s.Daemon.Token != 3000 || len(s.Steps) != 4 || s.Steps[1].Line != 5 || len(s.Steps[1].Members) != 2 {
		t.Fatalf("parsed %+v", s)
	}
}

func FuzzParseScenario(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(scenarioDir, "*.txt"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("hosts 2\nexpect 1 = within 1s\n")
	f.Fuzz(func(t *testing.T, src string) {
		s, err := ParseScenario("fuzz.txt", strings.NewReader(src))
		if err != nil {
			return
		}
		for _, st := range s.Steps {
			for _, h := range st.Hosts {
				if h < 1 || h > s.Hosts {
					t.Fatalf("line %d: host %d outside 1..%d", st.Line, h, s.Hosts)
				}
			}
		}
	})
}
