package wire

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPythonCrossCheck compares this package's decode of every captured
// datagram with the line an independent decoder (the Python script written
// during the protocol research, run by testdata/wire/pydecode.sh) printed
// for it. The two were written apart, so agreement on every field of every
// datagram is evidence about the layout, not just about self-consistency.
func TestPythonCrossCheck(t *testing.T) {
	for _, file := range captureFiles(t) {
		golden := strings.TrimSuffix(file, ".pcap") + ".pydecode"
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := readLines(t, golden)
			pkts := readCapture(t, file)
			if len(pkts) != len(want) {
				t.Fatalf("%d datagrams, %s has %d lines (re-run testdata/wire/pydecode.sh?)", len(pkts), filepath.Base(golden), len(want))
			}
			for i, p := range pkts {
				m, err := Decode(p.payload)
				if err != nil {
					t.Fatalf("frame %d: %v", p.frame, err)
				}
				if got := pythonLine(p, m); got != want[i] {
					t.Fatalf("frame %d:\n  go: %s\npython: %s", p.frame, got, want[i])
				}
			}
		})
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// pythonTypeNames are the decoder's spellings of the message types.
var pythonTypeNames = map[Type]string{
	TypeOrfToken: "ORF_TOKEN", TypeMcast: "MCAST", TypeMergeDetect: "MERGE_DETECT",
	TypeJoin: "JOIN", TypeCommitToken: "COMMIT_TOKEN", TypeTokenHoldCancel: "TOKEN_HOLD_CANCEL",
}

// pythonLine renders m the way totem_decode.py prints a datagram's first
// line: Python reprs for tuples and lists, decimal ring ids, the magic as
// read little-endian.
func pythonLine(p captured, m Message) string {
	h := m.Hdr()
	magic := Magic
	if h.BigEndian {
		magic = 0x70C0 // what a little-endian read of a big-endian header shows
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s:%d->%s len=%d magic=0x%04x ver=%d type=%s encap=%d nodeid=%d target=%#x",
		p.frame, p.src, p.srcPort, p.dst, len(p.payload), magic, Version, pythonTypeNames[h.Type], h.Encapsulated, h.NodeID, h.TargetNodeID)
	ring := func(r RingID) string { return fmt.Sprintf("%d.%d", r.Rep, r.Seq) }
	switch v := m.(type) {
	case *Join:
		fmt.Fprintf(&b, " from=%d proc=%s failed=%s ring_seq=%d", v.SystemFrom, pyTuple(v.ProcList), pyTuple(v.FailedList), v.RingSeq)
	case *MergeDetect:
		fmt.Fprintf(&b, " from=%d ring=%s", v.SystemFrom, ring(v.RingID))
	case *CommitToken:
		memb := make([]string, len(v.MembList))
		for i, e := range v.MembList {
			memb[i] = fmt.Sprintf("('%s', %d, %d, %d)", ring(e.RingID), e.Aru, e.HighDelivered, e.ReceivedFlg)
		}
		fmt.Fprintf(&b, " token_seq=%d ring=%s retrans_flg=%d memb_index=%d addrs=%s memb=[%s]",
			v.TokenSeq, ring(v.RingID), v.RetransFlg, v.MembIndex, pyTuple(v.Addr), strings.Join(memb, ", "))
	case *OrfToken:
		fmt.Fprintf(&b, " seq=%d token_seq=%d aru=%d aru_addr=%d ring=%s backlog=%d fcc=%d retrans_flg=%d rtr=%d",
			v.Seq, v.TokenSeq, v.Aru, v.AruAddr, ring(v.RingID), v.Backlog, v.FCC, int32(v.RetransFlg), len(v.RtrList))
	case *Mcast:
		fmt.Fprintf(&b, " from=%d seq=%d this_seqno=%d ring=%s node_id=%d guarantee=%d",
			v.SystemFrom, v.Seq, int32(v.ThisSeqno), ring(v.RingID), v.NodeID, int32(v.Guarantee))
	case *TokenHoldCancel:
		fmt.Fprintf(&b, " ring=%s", ring(v.RingID))
	}
	return b.String()
}

// pyTuple prints a list of ids as Python prints a tuple of ints.
func pyTuple(ids []uint32) string {
	switch len(ids) {
	case 0:
		return "()"
	case 1:
		return fmt.Sprintf("(%d,)", ids[0])
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
