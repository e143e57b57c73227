package cib

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSuiteSample(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "simple3.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 1 || c.Nodes[0].Uname != "node1" {
		t.Fatalf("nodes = %+v", c.Nodes)
	}
	if len(c.Resources) != 1 || c.Resources[0].ID != "rsc1" || c.Resources[0].Type != "apache" {
		t.Fatalf("resources = %+v", c.Resources)
	}
	if c.HaveQuorum {
		t.Fatal("have-quorum=false parsed as true")
	}
	if len(c.NodeStates) != 1 || len(c.NodeStates[0].Resources) != 1 {
		t.Fatalf("status not parsed: %+v", c.NodeStates)
	}
	op := c.NodeStates[0].Resources[0].Ops[0]
	if op.Operation != "stop" || op.RC != 0 || op.CallID != 1 || op.TargetRC != 0 {
		t.Fatalf("op = %+v", op)
	}
}

func TestTemplateAndCloneSample(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "template-clone-primitive.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var prim *ResourceDef
	Walk(c.Resources, func(r *ResourceDef) {
		if r.Kind == KindPrimitive && r.Template != "" {
			prim = r
		}
	})
	if prim == nil || prim.Class == "" || prim.Type == "" {
		t.Fatalf("template not applied: %+v", prim)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "no root element"},
		{"<cib><configuration>", "xml:"},
		{"<notcib/>", "root element must be <cib>"},
		{"<cib/>", "missing <configuration>"},
		{`<cib><configuration><resources><primitive id="a"/></resources></configuration></cib>`,
			"/cib/configuration/resources/primitive[@id='a']: primitive needs class and type"},
		{`<cib><configuration><resources><primitive class="ocf" type="x"/></resources></configuration></cib>`,
			"resource without id"},
		{`<cib><configuration/><status><node_state id="1" uname="n"><lrm><lrm_resources><lrm_resource id="r"><lrm_rsc_op id="x" interval="abc" operation="start"/></lrm_resource></lrm_resources></lrm></node_state></status></cib>`,
			"lrm_rsc_op[@id='x']: bad interval"},
		{`<cib execution-date="yesterday"><configuration/></cib>`, "bad execution-date"},
		{`<cib><configuration><resources><primitive id="p" template="nope"/></resources></configuration></cib>`, `unknown template "nope"`},
	}
	for _, tc := range cases {
		_, err := Parse(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want containing %q", tc.in, err, tc.want)
		}
	}
}

func TestLegacyMasterAndRoles(t *testing.T) {
	in := `<cib><configuration><resources><master id="ms"><meta_attributes id="m"><nvpair id="n" name="master-max" value="2"/></meta_attributes>
	<primitive id="p" class="ocf" provider="pacemaker" type="Stateful"/></master></resources></configuration></cib>`
	c, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Resources[0].Kind != KindClone || !c.Resources[0].Promotable {
		t.Fatalf("master not upgraded: %+v", c.Resources[0])
	}
	for in, want := range map[string]string{"Master": "Promoted", "slave": "Unpromoted", "Started": "Started", "": ""} {
		if got := NormalizeRole(in); got != want {
			t.Errorf("NormalizeRole(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScores(t *testing.T) {
	if AddScore(Infinity, -Infinity) != -Infinity {
		t.Error("-INFINITY must dominate")
	}
	if AddScore(900000, 900000) != Infinity {
		t.Error("sum must saturate")
	}
	if ParseScore("+INFINITY") != Infinity || ParseScore("-inf") != 0 || ParseScore("5000000") != Infinity || ParseScore("-12") != -12 {
		t.Error("ParseScore")
	}
	for in, want := range map[string]int64{"10s": 10000, "1m": 60000, "500ms": 500, "20": 20000, "PT1M": 60000, "1h": 3600000} {
		if got, ok := ParseDurationMS(in); !ok || got != want {
			t.Errorf("ParseDurationMS(%q) = %d,%v want %d", in, got, ok, want)
		}
	}
	if _, ok := ParseDurationMS("ten"); ok {
		t.Error("garbage duration accepted")
	}
}

func TestDates(t *testing.T) {
	cases := map[string]time.Time{
		"2005-020":                   time.Date(2005, 1, 20, 0, 0, 0, 0, time.UTC),
		"2005-020T12:30":             time.Date(2005, 1, 20, 12, 30, 0, 0, time.UTC),
		"2014-05-07 00:28:00":        time.Date(2014, 5, 7, 0, 28, 0, 0, time.UTC),
		"2019-09-23 18:00:00 -05:00": time.Date(2019, 9, 23, 23, 0, 0, 0, time.UTC),
		"2005-W03-4":                 time.Date(2005, 1, 20, 0, 0, 0, 0, time.UTC),
		"2005-01-20T12:30:15Z":       time.Date(2005, 1, 20, 12, 30, 15, 0, time.UTC),
	}
	for in, want := range cases {
		got, err := ParseISOTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseISOTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseISOTime("2005-13-40"); err == nil {
		t.Error("bad date accepted")
	}
}

func rule(t *testing.T, x string) *Element {
	t.Helper()
	e, err := ParseDOM(strings.NewReader(x))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRules(t *testing.T) {
	now := time.Date(2005, 1, 20, 12, 30, 0, 0, time.UTC)
	ctx := &RuleContext{Now: now, NodeAttrs: map[string]string{"#uname": "node1", "cpu": "8", "os": "Linux", "ver": "1.10"}}
	cases := []struct {
		x    string
		want bool
	}{
		{`<rule><expression attribute="#uname" operation="eq" value="node1"/></rule>`, true},
		{`<rule><expression attribute="os" operation="eq" value="linux"/></rule>`, true},
		{`<rule><expression attribute="cpu" operation="gt" value="10"/></rule>`, false},
		{`<rule><expression attribute="cpu" operation="gt" value="10" type="string"/></rule>`, true},
		{`<rule><expression attribute="ver" operation="gt" value="1.9" type="version"/></rule>`, true},
		{`<rule><expression attribute="missing" operation="ne" value="x"/></rule>`, true},
		{`<rule><expression attribute="missing" operation="not_defined"/></rule>`, true},
		{`<rule boolean-op="or"><expression attribute="os" operation="eq" value="BSD"/><expression attribute="cpu" operation="lte" value="8"/></rule>`, true},
		{`<rule><expression attribute="os" operation="eq" value="BSD"/><expression attribute="cpu" operation="lte" value="8"/></rule>`, false},
		{`<rule><date_expression operation="in_range" start="2005-001" end="2005-030"/></rule>`, true},
		{`<rule><date_expression operation="gt" start="2005-021"/></rule>`, false},
		{`<rule><date_expression operation="lt" end="2005-021"/></rule>`, true},
		{`<rule><date_expression operation="date_spec"><date_spec hours="12" weekdays="1-5"/></date_expression></rule>`, true},
		{`<rule><date_expression operation="date_spec"><date_spec hours="9-11"/></date_expression></rule>`, false},
		{`<rule><date_expression operation="in_range" start="2005-020"><duration years="1"/></date_expression></rule>`, true},
		{`<rule><rule boolean-op="or"><expression attribute="os" operation="defined"/></rule></rule>`, true},
	}
	for _, tc := range cases {
		if got := EvalRule(rule(t, tc.x), ctx); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestNVSetOrderAndRules(t *testing.T) {
	in := `<cib><configuration><crm_config>
	<cluster_property_set id="a" score="1"><nvpair id="1" name="x" value="low"/></cluster_property_set>
	<cluster_property_set id="b" score="10"><nvpair id="2" name="x" value="high"/></cluster_property_set>
	<cluster_property_set id="c" score="100"><rule id="r"><expression id="e" attribute="nope" operation="defined"/></rule><nvpair id="3" name="x" value="ruled-out"/></cluster_property_set>
	</crm_config></configuration></cib>`
	c, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	Unpack(c.CrmConfig, &RuleContext{NodeAttrs: map[string]string{}}, m, false)
	if m["x"] != "high" {
		t.Fatalf("x = %q, want the highest-scoring applicable set", m["x"])
	}
}

func TestHistorySortedByCallID(t *testing.T) {
	in := `<cib><configuration/><status><node_state id="1" uname="n" in_ccm="true"><lrm><lrm_resources><lrm_resource id="r" class="ocf" provider="p" type="t">
	<lrm_rsc_op id="r_last_0" operation="stop" call-id="9" rc-code="0" op-status="0" interval="0" transition-key="1:2:0:x"/>
	<lrm_rsc_op id="r_monitor_10000" operation="monitor" call-id="5" rc-code="0" op-status="0" interval="10000" transition-magic="0:0;1:2:0:x"/>
	<lrm_rsc_op id="r_pending" operation="start" call-id="-1" rc-code="193" op-status="-1" interval="0"/>
	</lrm_resource></lrm_resources></lrm></node_state></status></cib>`
	c, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	ops := c.NodeStates[0].Resources[0].Ops
	if ops[0].CallID != 5 || ops[1].CallID != 9 || ops[2].CallID != -1 {
		t.Fatalf("order = %d %d %d", ops[0].CallID, ops[1].CallID, ops[2].CallID)
	}
	if ops[0].TargetRC != 0 || ops[0].IntervalMS != 10000 {
		t.Fatalf("magic/interval not decoded: %+v", ops[0])
	}
}
