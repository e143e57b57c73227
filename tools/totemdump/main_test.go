package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func dump(t *testing.T, file string) (string, *summary) {
	t.Helper()
	var out bytes.Buffer
	sum, err := dumpFile("../../testdata/wire/"+file, 5405, &out)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), sum
}

func TestDumpFormation(t *testing.T) {
	out, sum := dump(t, "udpu-2node-join.pcap")
	if len(sum.errors) != 0 {
		t.Fatalf("errors on a clean capture: %v", sum.errors)
	}
	for _, want := range []string{
		"join from=1 ring_seq=1 proc=(1) failed=()",
		"commit_token ring=1.9 token_seq=2 memb_index=2 addr=(1,2) memb=[1.5/aru=8/hd=8/rf=1 2.5/aru=8/hd=8/rf=1]",
		"orf_token ring=1.9 seq=0 token_seq=0 aru=4294967295 aru_addr=1",
		"sync:service_build:552B",
		"a:cpg.5:1568B", // the downlist, reassembled from two fragments
		"a:votequorum.0:32B",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if sum.types["commit_token"] != 4 || sum.types["join"] != 5 {
		t.Errorf("type counts %v", sum.types)
	}
}

func TestDumpLeaveAndCpg(t *testing.T) {
	out, _ := dump(t, "udpu-node-leave.pcap")
	if !strings.Contains(out, "join(leave) from=1 ring_seq=9 proc=(2) failed=(1)") {
		t.Errorf("leave not shown:\n%s", out)
	}
	out, sum := dump(t, "udpu-cpg-join-mcast-leave.pcap")
	if !strings.Contains(out, "a:cpg.0:168B") || !strings.Contains(out, "a:cpg.3:197B") || sum.types["token_hold_cancel"] == 0 {
		t.Errorf("cpg join/mcast or hold cancel missing; types %v", sum.types)
	}
}

func TestDumpCountsErrors(t *testing.T) {
	var out bytes.Buffer
	d := newDumper(&out)
	d.datagram(0, "198.18.0.9:5405", []byte{0xff, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	d.datagram(0, "198.18.0.9:5405", []byte{1, 2})
	if d.sum.errors["bad_magic_number"] != 1 || d.sum.errors["message_too_short"] != 1 {
		t.Fatalf("errors %v", d.sum.errors)
	}
	var s bytes.Buffer
	d.sum.print(&s)
	if !strings.Contains(s.String(), "errors=2") {
		t.Fatalf("summary %q", s.String())
	}
}

// TestDumpReassemblesEverySize reads the capture of cpgsend multicasting
// messages of 10 B to 200 KB on a three-node Corosync ring: every message
// must come out whole exactly once, although over udpu the bridge saw each
// datagram once per member.
func TestDumpReassemblesEverySize(t *testing.T) {
	out, sum := dump(t, "udpu-3node-cpg-sizes.pcap")
	if len(sum.errors) != 0 {
		t.Fatalf("errors: %v", sum.errors)
	}
	// cpg MCAST exec messages are 184 bytes of header plus the data.
	for _, size := range []int{10, 100, 1000, 1400, 1500, 5000, 20000, 100000, 200000} {
		want := fmt.Sprintf("a:cpg.3:%dB", 184+size)
		if n := strings.Count(out, want); n != 1 {
			t.Errorf("%s seen %d times, want 1", want, n)
		}
	}
}

// TestDumpEveryCapture runs the dump over every committed capture: no
// errors, and as many datagrams as the independent Python decode of the
// same file has lines (testdata/wire/*.pydecode).
func TestDumpEveryCapture(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/wire/*.pcap")
	hard, _ := filepath.Glob("../../testdata/wire/recovery/*.pcap")
	if len(files) == 0 || len(hard) == 0 {
		t.Fatal("no captures")
	}
	for _, file := range append(files, hard...) {
		name, _ := filepath.Rel("../../testdata/wire", file)
		_, sum := dump(t, name)
		if len(sum.errors) != 0 {
			t.Errorf("%s: errors %v", name, sum.errors)
		}
		py, err := os.ReadFile(strings.TrimSuffix(file, ".pcap") + ".pydecode")
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.Count(py, []byte("\n")); sum.packets != want {
			t.Errorf("%s: %d datagrams, the Python decode has %d", name, sum.packets, want)
		}
	}
}

func TestDumpTokensAndUDP(t *testing.T) {
	out, _ := dump(t, "udpu-3node-partition-heal.pcap")
	for _, want := range []string{
		"198.18.0.2:5405       orf_token ring=1.1d seq=5 token_seq=28 aru=1 aru_addr=2 fcc=0 backlog=0 retrans_flg=0 rtr=1(2)",
		"commit_token ring=1.1d token_seq=3 memb_index=3 addr=(1,2,3) memb=[1.19/aru=14/hd=14/rf=1 1.19/aru=14/hd=14/rf=1 3.19/aru=7/hd=7/rf=1]",
		"join from=1 ring_seq=15 proc=(1,2,3) failed=(3)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("partition capture lacks %q", want)
		}
	}
	out, _ = dump(t, "udp-mcast-3node.pcap")
	if !strings.Contains(out, "198.18.0.2:5404       mcast ring=2.5 from=2 seq=1 encap=normal size=47 pg[msgs=1 frag=0 cont=0] a:votequorum.0:32B") {
		t.Errorf("udp capture: first mcast of node 2's lone ring missing")
	}
}

func TestRunFlags(t *testing.T) {
	file := "../../testdata/wire/udpu-node-leave.pcap"
	var out, errOut bytes.Buffer
	if rc := run([]string{"-q", file}, &out, &errOut); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errOut.String())
	}
	if got := out.String(); got != "summary: 21 totem datagrams join=2 mcast=7 merge_detect=8 orf_token=4; errors=0\n" {
		t.Errorf("-q printed %q", got)
	}
	out.Reset()
	if rc := run([]string{"-port", "5999", file}, &out, &errOut); rc != 0 || !strings.HasPrefix(out.String(), "summary: 0 totem datagrams") {
		t.Errorf("other port: rc %d, %q", rc, out.String())
	}
	if rc := run(nil, &out, &errOut); rc != 2 {
		t.Errorf("no file: rc %d", rc)
	}
	if rc := run([]string{"-port", "70000", file}, &out, &errOut); rc != 2 {
		t.Errorf("bad port: rc %d", rc)
	}
	errOut.Reset()
	if rc := run([]string{"/nonexistent.pcap"}, &out, &errOut); rc != 1 || !strings.Contains(errOut.String(), "nonexistent") {
		t.Errorf("missing file: rc %d, %q", rc, errOut.String())
	}
}

// TestDumpRecovery reads the recovery capture, whose readers need IP
// reassembly (1500-byte encapsulated mcasts) and Corosync's two totempg
// reassembly phases: node 1's fragmented flood message, cut by the
// membership change, resumes only after the new ring's sync completes.
func TestDumpRecovery(t *testing.T) {
	out, sum := dump(t, "recovery/udpu-3node-recovery.pcap")
	if len(sum.errors) != 0 {
		t.Fatalf("errors %v", sum.errors)
	}
	for _, want := range []string{
		"commit_token ring=1.11 token_seq=2 memb_index=2 addr=(1,2) memb=[1.d/aru=144/hd=144/rf=1 1.d/aru=122/hd=122/rf=0]",
		"mcast ring=1.11 from=2 seq=1 encap=recovery recovered=[ring=1.d from=3 seq=136] size=1410",
		"sync:barrier:32B (sync complete)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(out, "encap=recovery"); n < 40 {
		t.Errorf("%d encapsulated mcasts shown", n)
	}
}
