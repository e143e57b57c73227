package scheduler

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/crm/cib"
)

var saveDisagreements = flag.Bool("save-differential", false, "write CIBs on which we disagree with crm_simulate to testdata/differential/")

// differentialFloor is the committed minimum agreement (percent) with
// Debian's crm_simulate over the fixed seed set below.
const differentialFloor = 90

// genCluster builds a random small cluster: 2-4 nodes, primitives, a group,
// a clone, constraints and some history.
func genCluster(rng *rand.Rand) string {
	var b strings.Builder
	nn := 2 + rng.Intn(3)
	nodes := make([]string, nn)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node%d", i+1)
	}
	fmt.Fprintf(&b, `<cib admin_epoch="0" epoch="1" num_updates="1" have-quorum="true" validate-with="pacemaker-3.7" dc-uuid="1"><configuration><crm_config><cluster_property_set id="o">`)
	fmt.Fprintf(&b, `<nvpair id="o1" name="stonith-enabled" value="false"/>`)
	if rng.Intn(3) == 0 {
		fmt.Fprintf(&b, `<nvpair id="o2" name="symmetric-cluster" value="false"/>`)
	}
	b.WriteString(`</cluster_property_set></crm_config><nodes>`)
	for i, n := range nodes {
		fmt.Fprintf(&b, `<node id="%d" uname="%s">`, i+1, n)
		if rng.Intn(4) == 0 {
			fmt.Fprintf(&b, `<instance_attributes id="na%d"><nvpair id="na%d-s" name="standby" value="on"/></instance_attributes>`, i, i)
		}
		b.WriteString(`</node>`)
	}
	b.WriteString(`</nodes><resources>`)
	var prims []string
	np := 1 + rng.Intn(4)
	for i := 0; i < np; i++ {
		id := fmt.Sprintf("r%d", i)
		prims = append(prims, id)
		fmt.Fprintf(&b, `<primitive id="%s" class="ocf" provider="heartbeat" type="Dummy">`, id)
		if rng.Intn(3) == 0 {
			fmt.Fprintf(&b, `<meta_attributes id="%s-m"><nvpair id="%s-st" name="resource-stickiness" value="%d"/></meta_attributes>`, id, id, rng.Intn(200))
		}
		b.WriteString(`</primitive>`)
	}
	if rng.Intn(2) == 0 {
		b.WriteString(`<group id="g"><primitive id="ga" class="ocf" provider="heartbeat" type="Dummy"/><primitive id="gb" class="ocf" provider="heartbeat" type="Dummy"/></group>`)
		prims = append(prims, "g")
	}
	if rng.Intn(2) == 0 {
		fmt.Fprintf(&b, `<clone id="c"><meta_attributes id="c-m"><nvpair id="c-max" name="clone-max" value="%d"/></meta_attributes><primitive id="cp" class="ocf" provider="heartbeat" type="Dummy"/></clone>`, 1+rng.Intn(nn))
		prims = append(prims, "c")
	}
	b.WriteString(`</resources><constraints>`)
	for i := 0; i < rng.Intn(4); i++ {
		r := prims[rng.Intn(len(prims))]
		scores := []string{"INFINITY", "-INFINITY", "100", "-50", "0"}
		fmt.Fprintf(&b, `<rsc_location id="loc%d" rsc="%s" node="%s" score="%s"/>`, i, r, nodes[rng.Intn(nn)], scores[rng.Intn(len(scores))])
	}
	if len(prims) > 1 && rng.Intn(2) == 0 {
		a, c := prims[0], prims[1]
		scores := []string{"INFINITY", "-INFINITY", "200"}
		fmt.Fprintf(&b, `<rsc_colocation id="col" rsc="%s" with-rsc="%s" score="%s"/>`, c, a, scores[rng.Intn(3)])
	}
	if len(prims) > 1 && rng.Intn(2) == 0 {
		fmt.Fprintf(&b, `<rsc_order id="ord" first="%s" then="%s"/>`, prims[0], prims[len(prims)-1])
	}
	b.WriteString(`</constraints></configuration><status>`)
	call := 1
	for i, n := range nodes {
		if rng.Intn(6) == 0 {
			continue // never seen: offline (fencing is disabled)
		}
		fmt.Fprintf(&b, `<node_state id="%d" uname="%s" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="%d"><lrm_resources>`, i+1, n, i+1)
		for _, p := range []string{"r0", "r1", "r2", "r3", "ga", "gb"} {
			if !strings.Contains(b.String(), `id="`+p+`"`) || rng.Intn(3) != 0 {
				continue
			}
			rc, op := 0, "start"
			switch rng.Intn(4) {
			case 0:
				rc, op = 7, "monitor"
			case 1:
				rc, op = 1, "start"
			}
			target := 0
			if op == "monitor" {
				target = 7
			}
			fmt.Fprintf(&b, `<lrm_resource id="%s" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="%s_last_0" operation_key="%s_%s_0" operation="%s" call-id="%d" rc-code="%d" op-status="0" interval="0" transition-key="1:1:%d:0c3b2b4e-0000-0000-0000-000000000000" transition-magic="0:%d;1:1:%d:0c3b2b4e-0000-0000-0000-000000000000" last-rc-change="1600000000" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/></lrm_resource>`,
				p, p, p, op, op, call, rc, target, rc, target)
			call++
		}
		b.WriteString(`</lrm_resources></lrm></node_state>`)
	}
	b.WriteString(`</status></cib>`)
	return b.String()
}

var instanceSuffix = regexp.MustCompile(`:\d+$`)

// graphActions extracts the graded multiset from a transition graph.
func graphActions(xml []byte) (map[string]int, error) {
	root, err := cib.ParseDOM(bytes.NewReader(xml))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	core := map[string]bool{"start": true, "stop": true, "promote": true, "demote": true, "migrate_to": true, "migrate_from": true}
	for _, syn := range root.All("synapse") {
		for _, set := range syn.All("action_set") {
			for _, a := range set.Children {
				op := a.Get("operation")
				switch {
				case a.Name == "rsc_op":
					rsc := instanceSuffix.ReplaceAllString(a.Child("primitive").Get("id"), "")
					if op == "monitor" && strings.HasSuffix(a.Get("operation_key"), "_0") {
						out["probe "+rsc+" "+a.Get("on_node")]++
					} else if core[op] {
						out[op+" "+rsc+" "+a.Get("on_node")]++
					}
				case op == "stonith" || op == "do_shutdown":
					out[op+" "+a.Get("on_node")]++
				}
			}
		}
	}
	return out, nil
}

func sameActions(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func describe(m map[string]int) string {
	var s []string
	for k, v := range m {
		s = append(s, k+"x"+strconv.Itoa(v))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// TestDifferentialAgainstCrmSimulate compares our plans with Debian's
// crm_simulate on random small clusters generated from fixed seeds.
func TestDifferentialAgainstCrmSimulate(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	sim, err := exec.LookPath("crm_simulate")
	if err != nil {
		t.Skip("crm_simulate (pacemaker-cli-utils) not installed")
	}
	dir := t.TempDir()
	agree, total := 0, 0
	for seed := int64(1); seed <= 25; seed++ {
		xml := genCluster(rand.New(rand.NewSource(seed)))
		in := filepath.Join(dir, fmt.Sprintf("case-%d.xml", seed))
		if err := os.WriteFile(in, []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("case-%d.exp", seed))
		cmd := exec.Command(sim, "-x", in, "-G", out, "-S", "-t", "2020-01-01 00:00:00")
		cmd.Env = append(os.Environ(), "CIB_shadow_dir="+dir, "LC_ALL=C")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Logf("seed %d: crm_simulate failed: %v %s", seed, err, msg)
			continue
		}
		wantXML, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := graphActions(wantXML)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cib.Parse(strings.NewReader(xml))
		if err != nil {
			t.Fatalf("seed %d: our parser rejected a generated CIB: %v", seed, err)
		}
		res, err := Schedule(c, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		got, err := graphActions([]byte(res.XML))
		if err != nil {
			t.Fatalf("seed %d: our graph does not parse: %v", seed, err)
		}
		total++
		if sameActions(got, want) {
			agree++
			continue
		}
		t.Logf("seed %d disagrees:\n ours:   %s\n theirs: %s", seed, describe(got), describe(want))
		if *saveDisagreements {
			dst := filepath.Join("testdata", "differential")
			if err := os.MkdirAll(dst, 0o755); err == nil {
				_ = os.WriteFile(filepath.Join(dst, fmt.Sprintf("seed-%d.xml", seed)), []byte(xml), 0o644)
				_ = os.WriteFile(filepath.Join(dst, fmt.Sprintf("seed-%d.exp", seed)), wantXML, 0o644)
			}
		}
	}
	if total == 0 {
		t.Skip("crm_simulate produced no results")
	}
	pct := 100 * agree / total
	t.Logf("agreement with crm_simulate: %d/%d (%d%%)", agree, total, pct)
	if pct < differentialFloor {
		t.Fatalf("agreement %d%% below floor %d%%", pct, differentialFloor)
	}
}
