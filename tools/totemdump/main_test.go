package main

import (
	"bytes"
	"fmt"
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
