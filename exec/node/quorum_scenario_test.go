package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A quorum scenario (votequorum/testdata/netns/*.txt) is played on a
// ringfenced cluster and a corosync cluster side by side; after each
// status step both must show the expected verdicts and the same
// `corosync-quorumtool -s` on every listed node. One step a line:
//
//	hosts 4                         first line: cluster size
//	token 500                       totem.token (ms)
//	quorum wait_for_all: 1          a line for the quorum section (repeatable)
//	mixed                           also play it on a ring of ringfenced (odd
//	                                hosts) and corosync (even hosts)
//	qnetd                           the last host runs corosync-qnetd, the
//	                                others corosync-qdevice (model net, ffsplit)
//	start 1 2                       start the daemons (and qdevices)
//	kill 2                          SIGKILL the daemons
//	cut 3 | heal 3                  a host's link down / up
//	split 1 2 | 3 4                 block all traffic between the groups
//	join                            undo every split
//	quorumtool 1 -e 5               run corosync-quorumtool on host 1; both
//	                                clusters must give the same exit status
//	cmap 1 quorum.expected_votes u32 5
//	                                corosync-cmapctl -s on host 1 (same exit
//	                                status on both)
//	members 1 2 = 1 2               wait until hosts list exactly these members
//	status 1 2 = yes expected=3 total=3 quorum=2 flags=Quorate,WaitForAll
//	                                wait until each host's quorumtool -s says
//	                                so, then compare the whole output
//	sleep 2s
//	nolog lost contact              no daemon log of either cluster has this
//
// "#" starts a comment.
type quorumScenario struct {
	Hosts  int
	Token  int
	Quorum []string
	Qnetd  bool
	Mixed  bool
	Steps  []quorumStep
}

type quorumStep struct {
	Line    int
	Op      string
	Hosts   []int
	Groups  [][]int  // split
	Members []uint32 // members
	Args    []string // quorumtool
	Want    quorumVerdict
	Sleep   time.Duration
	Text    string // nolog
}

// quorumVerdict is what a status step expects; zero fields are not checked
// (Flags "-" means no flags at all).
type quorumVerdict struct {
	Quorate                         string // "Yes" or "No"
	Expected, Highest, Total, Quota int
	Flags                           string
}

func parseQuorumScenario(name string, r io.Reader) (*quorumScenario, error) {
	s := &quorumScenario{Token: 1000}
	sc := bufio.NewScanner(r)
	line := 0
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	hostList := func(args []string) ([]int, error) {
		var hs []int
		for _, a := range args {
			n, err := strconv.Atoi(a)
			if err != nil || n < 1 || n > s.Hosts {
				return nil, fmt.Errorf("bad host %q (1..%d)", a, s.Hosts)
			}
			hs = append(hs, n)
		}
		if len(hs) == 0 {
			return nil, fmt.Errorf("no hosts")
		}
		return hs, nil
	}
	for sc.Scan() {
		line++
		raw, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(raw)
		if len(f) == 0 {
			continue
		}
		op, args := f[0], f[1:]
		if s.Hosts == 0 && op != "hosts" {
			return nil, errf("first step must be \"hosts N\"")
		}
		st := quorumStep{Line: line, Op: op}
		switch op {
		case "hosts":
			n, err := strconv.Atoi(strings.Join(args, " "))
			if s.Hosts != 0 || err != nil || n < 1 || n > 16 {
				return nil, errf("hosts takes one number 1..16, once")
			}
			s.Hosts = n
			continue
		case "token":
			n, err := strconv.Atoi(strings.Join(args, " "))
			if err != nil || n < 100 || n > 60000 {
				return nil, errf("token takes milliseconds 100..60000")
			}
			s.Token = n
			continue
		case "quorum":
			if len(args) == 0 || !strings.HasSuffix(args[0], ":") {
				return nil, errf("quorum takes a \"key: value\" line")
			}
			s.Quorum = append(s.Quorum, strings.Join(args, " "))
			continue
		case "qnetd":
			if len(args) != 0 || s.Hosts < 3 {
				return nil, errf("qnetd takes no arguments and needs a host of its own")
			}
			s.Qnetd = true
			continue
		case "mixed":
			if len(args) != 0 {
				return nil, errf("mixed takes no arguments")
			}
			s.Mixed = true
			continue
		case "start", "kill", "cut", "heal":
			hs, err := hostList(args)
			if err != nil {
				return nil, errf("%s: %v", op, err)
			}
			st.Hosts = hs
		case "split":
			for _, g := range strings.Split(strings.Join(args, " "), "|") {
				hs, err := hostList(strings.Fields(g))
				if err != nil {
					return nil, errf("split: %v", err)
				}
				st.Groups = append(st.Groups, hs)
			}
			if len(st.Groups) < 2 {
				return nil, errf("split needs two groups or more")
			}
		case "join":
			if len(args) != 0 {
				return nil, errf("join takes no arguments")
			}
		case "quorumtool", "cmap":
			if len(args) < 2 || (op == "cmap" && len(args) != 4) {
				return nil, errf("quorumtool HOST ARGS... | cmap HOST KEY TYPE VALUE")
			}
			hs, err := hostList(args[:1])
			if err != nil {
				return nil, errf("%s: %v", op, err)
			}
			st.Hosts, st.Args = hs, args[1:]
		case "members", "status":
			eq := slices.Index(args, "=")
			if eq < 1 {
				return nil, errf("%s HOSTS = ...", op)
			}
			hs, err := hostList(args[:eq])
			if err != nil {
				return nil, errf("%s: %v", op, err)
			}
			st.Hosts = hs
			if op == "members" {
				ms, err := hostList(args[eq+1:])
				if err != nil {
					return nil, errf("members: %v", err)
				}
				for _, m := range ms {
					st.Members = append(st.Members, uint32(m))
				}
				break
			}
			if st.Want, err = parseVerdict(args[eq+1:]); err != nil {
				return nil, errf("status: %v", err)
			}
		case "nolog":
			if len(args) == 0 {
				return nil, errf("nolog takes a text")
			}
			st.Text = strings.Join(args, " ")
		case "sleep":
			d, err := time.ParseDuration(strings.Join(args, " "))
			if err != nil || d < 0 || d > time.Minute {
				return nil, errf("sleep takes a duration up to 1m")
			}
			st.Sleep = d
		default:
			return nil, errf("unknown step %q", op)
		}
		s.Steps = append(s.Steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if s.Hosts == 0 {
		return nil, fmt.Errorf("%s: empty scenario", name)
	}
	return s, nil
}

func parseVerdict(args []string) (quorumVerdict, error) {
	var v quorumVerdict
	if len(args) == 0 {
		return v, fmt.Errorf("want yes or no first")
	}
	switch args[0] {
	case "yes":
		v.Quorate = "Yes"
	case "no":
		v.Quorate = "No"
	default:
		return v, fmt.Errorf("want yes or no first, not %q", args[0])
	}
	for _, kv := range args[1:] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || val == "" {
			return v, fmt.Errorf("%q is not key=value", kv)
		}
		if k == "flags" {
			v.Flags = strings.ReplaceAll(val, ",", " ")
			continue
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return v, fmt.Errorf("%s wants a number, not %q", k, val)
		}
		switch k {
		case "expected":
			v.Expected = n
		case "highest":
			v.Highest = n
		case "total":
			v.Total = n
		case "quorum":
			v.Quota = n
		default:
			return v, fmt.Errorf("unknown key %q", k)
		}
	}
	return v, nil
}

var (
	reQtQuorate  = regexp.MustCompile(`(?m)^Quorate:\s+(\S+)`)
	reQtExpected = regexp.MustCompile(`(?m)^Expected votes:\s+(\d+)`)
	reQtHighest  = regexp.MustCompile(`(?m)^Highest expected:\s+(\d+)`)
	reQtTotal    = regexp.MustCompile(`(?m)^Total votes:\s+(\d+)`)
	reQtQuorum   = regexp.MustCompile(`(?m)^Quorum:\s+(\d+)`)
	reQtFlags    = regexp.MustCompile(`(?m)^Flags:[ \t]*(.*)$`)
	// The parts that differ between two clusters telling the same story.
	reQtDate = regexp.MustCompile(`(?m)^Date:.*$`)
	reQtRing = regexp.MustCompile(`(?m)^Ring ID:.*$`)
)

// readVerdict takes the verdict out of `corosync-quorumtool -s` output.
func readVerdict(out string) (quorumVerdict, bool) {
	var v quorumVerdict
	m := reQtQuorate.FindStringSubmatch(out)
	if m == nil {
		return v, false
	}
	v.Quorate = m[1]
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *int
	}{{reQtExpected, &v.Expected}, {reQtHighest, &v.Highest}, {reQtTotal, &v.Total}, {reQtQuorum, &v.Quota}} {
		m := f.re.FindStringSubmatch(out)
		if m == nil {
			return v, false
		}
		*f.dst, _ = strconv.Atoi(m[1])
	}
	if m := reQtFlags.FindStringSubmatch(out); m != nil {
		v.Flags = strings.Join(strings.Fields(m[1]), " ")
	}
	if v.Flags == "" {
		v.Flags = "-"
	}
	return v, true
}

// matches reports whether got has every field want sets.
func (want quorumVerdict) matches(got quorumVerdict) bool {
	eq := func(w, g int) bool { return w == 0 || w == g }
	return want.Quorate == got.Quorate && eq(want.Expected, got.Expected) && eq(want.Highest, got.Highest) &&
		eq(want.Total, got.Total) && eq(want.Quota, got.Quota) && (want.Flags == "" || want.Flags == got.Flags)
}

func (v quorumVerdict) String() string {
	return fmt.Sprintf("quorate=%s expected=%d highest=%d total=%d quorum=%d flags=%q", v.Quorate, v.Expected, v.Highest, v.Total, v.Quota, v.Flags)
}

// normaliseStatus drops the date and ring id (and trailing blanks) so two
// clusters' outputs compare equal when their quorum state is the same.
func normaliseStatus(out string) string {
	out = reQtDate.ReplaceAllString(out, "Date: -")
	out = reQtRing.ReplaceAllString(out, "Ring ID: -")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// FuzzQuorumScenario: the scenario parser takes any text without
// panicking, and every scenario in the tree parses.
func FuzzQuorumScenario(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(quorumScenarioDir, "*.txt"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := parseQuorumScenario(file, bytes.NewReader(b)); err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("hosts 3\nsplit 1 | 2 |\nstatus 1 = maybe\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseQuorumScenario("fuzz", strings.NewReader(text))
		if err == nil && (s.Hosts < 1 || s.Hosts > 16) {
			t.Fatalf("accepted %d hosts", s.Hosts)
		}
	})
}
