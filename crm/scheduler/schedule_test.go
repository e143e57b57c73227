package scheduler

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/crm/cib"
)

// plan runs the scheduler and lists graph actions as "task rsc node".
func plan(t *testing.T, xml string) []string {
	t.Helper()
	c, err := cib.Parse(strings.NewReader(xml))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Schedule(c, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, syn := range res.Graph.Synapses {
		a := syn.Action
		if a.Pseudo {
			continue
		}
		name := ""
		if a.Rsc != nil {
			name = a.Rsc.graphID()
		}
		task := a.Task
		if a.Probe {
			task = "probe"
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", task, name, a.Node.Name)))
	}
	sort.Strings(out)
	return out
}

const twoNodes = `<nodes><node id="n1" uname="node1"/><node id="n2" uname="node2"/></nodes>`

func cibXML(props, resources, constraints, status string) string {
	return `<cib have-quorum="true"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="o1" name="stonith-enabled" value="false"/>` + props + `</cluster_property_set></crm_config>` + twoNodes +
		`<resources>` + resources + `</resources><constraints>` + constraints + `</constraints></configuration><status>
<node_state id="n1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">` + status + `</node_state>
<node_state id="n2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/></status></cib>`
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestFreshResourceProbesAndStartsOnFirstNode(t *testing.T) {
	got := plan(t, cibXML("", `<primitive id="r" class="ocf" provider="heartbeat" type="Dummy"/>`, "", ""))
	expect(t, got, "probe r node1", "probe r node2", "start r node1")
}

func history(rsc, ops string) string {
	return `<lrm id="l"><lrm_resources><lrm_resource id="` + rsc + `" class="ocf" provider="heartbeat" type="Dummy">` + ops + `</lrm_resource></lrm_resources></lrm>`
}

const startedOK = `<lrm_rsc_op id="r_last_0" operation="start" call-id="2" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x"/>`

func TestRunningResourceStays(t *testing.T) {
	got := plan(t, cibXML("", `<primitive id="r" class="ocf" provider="heartbeat" type="Dummy"/>`,
		`<rsc_location id="l" rsc="r" node="node2" score="10"/>`, history("r", startedOK)))
	// without stickiness the location preference moves it
	expect(t, got, "probe r node2", "start r node2", "stop r node1")
	got = plan(t, cibXML("", `<primitive id="r" class="ocf" provider="heartbeat" type="Dummy"><meta_attributes id="m"><nvpair id="s" name="resource-stickiness" value="100"/></meta_attributes></primitive>`,
		`<rsc_location id="l" rsc="r" node="node2" score="10"/>`, history("r", startedOK)))
	expect(t, got, "probe r node2")
}

func TestFailedMonitorRecoversInPlace(t *testing.T) {
	ops := startedOK + `<lrm_rsc_op id="r_monitor_10000" operation="monitor" call-id="3" rc-code="1" op-status="0" interval="10000" transition-key="2:1:0:x"/>`
	got := plan(t, cibXML("", `<primitive id="r" class="ocf" provider="heartbeat" type="Dummy"/>`, "", history("r", ops)))
	expect(t, got, "probe r node2", "start r node1", "stop r node1")
}

func TestAntiColocationAndGroupOrder(t *testing.T) {
	res := `<group id="g"><primitive id="a" class="ocf" provider="heartbeat" type="Dummy"/><primitive id="b" class="ocf" provider="heartbeat" type="Dummy"/></group>
<primitive id="c" class="ocf" provider="heartbeat" type="Dummy"/>`
	got := plan(t, cibXML("", res, `<rsc_colocation id="x" rsc="c" with-rsc="g" score="-INFINITY"/>`, ""))
	expect(t, got, "probe a node1", "probe a node2", "probe b node1", "probe b node2", "probe c node1", "probe c node2",
		"start a node1", "start b node1", "start c node2")
}

func TestMandatoryOrderBlocksDependent(t *testing.T) {
	res := `<primitive id="a" class="ocf" provider="heartbeat" type="Dummy"><meta_attributes id="m"><nvpair id="t" name="target-role" value="Stopped"/></meta_attributes></primitive>
<primitive id="b" class="ocf" provider="heartbeat" type="Dummy"/>`
	got := plan(t, cibXML("", res, `<rsc_order id="o" first="a" then="b"/>`, ""))
	expect(t, got, "probe a node1", "probe a node2", "probe b node1", "probe b node2")
}

func TestAnonymousCloneSpreads(t *testing.T) {
	res := `<clone id="c"><primitive id="p" class="ocf" provider="heartbeat" type="Dummy"/></clone>`
	got := plan(t, cibXML("", res, "", ""))
	expect(t, got, "probe p node1", "probe p node2", "start p node1", "start p node2")
}

func TestOpDigestMatchesPacemaker(t *testing.T) {
	// the empty parameter set's digest appears throughout the suite
	if d := opDigest(map[string]string{}); d != "f2317cad3d54cec5d7d7aa7d0bf35cf8" {
		t.Fatalf("digest = %s", d)
	}
}

func TestSummaryLines(t *testing.T) {
	c, err := cib.Parse(strings.NewReader(cibXML("", `<primitive id="r" class="ocf" provider="heartbeat" type="Dummy"/>`, "", "")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Schedule(c, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	sum := res.Summary()
	if !strings.Contains(sum, "Transition Summary:") || !regexpMatch(`\* Start\s+r\s+\( node1 \)`, sum) {
		t.Fatalf("summary:\n%s", sum)
	}
}

func regexpMatch(pat, s string) bool { return regexp.MustCompile(pat).MatchString(s) }
