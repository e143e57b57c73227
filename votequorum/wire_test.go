package votequorum

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"
)

// capturedExec is one votequorum exec message found in a capture.
type capturedExec struct {
	frame  int
	sender uint32
	bytes  []byte
}

// votequorumFromPcap digs the votequorum exec messages out of a classic
// pcap of Ethernet/IPv4/UDP totem traffic: totem MCAST (45-byte header),
// totempg packet, group "a", exec header with service 5. Fragmented
// packets are skipped (votequorum messages are never fragmented).
func votequorumFromPcap(t *testing.T, path string) []capturedExec {
	t.Helper()
	return votequorumFromPcapFile(t, path)
}

func votequorumFromPcapFile(t testing.TB, path string) []capturedExec {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian pcap", path)
	}
	var out []capturedExec
	off, frame := 24, 0
	for off+16 <= len(data) {
		incl := int(binary.LittleEndian.Uint32(data[off+8:]))
		pkt := data[off+16 : off+16+incl]
		off += 16 + incl
		frame++
		if len(pkt) < 14+20+8 || pkt[12] != 0x08 || pkt[13] != 0x00 {
			continue
		}
		ihl := int(pkt[14]&0x0f) * 4
		if pkt[14+9] != 17 || len(pkt) < 14+ihl+8 {
			continue
		}
		udp := pkt[14+ihl+8:]
		// totem header: magic c070, version 3, type 1 (mcast), encapsulated 2 (normal)
		if len(udp) < 45+8 || udp[0] != 0x70 || udp[1] != 0xc0 || udp[2] != 3 || udp[3] != 1 || udp[4] != 2 {
			continue
		}
		sender := binary.LittleEndian.Uint32(udp[13:])
		pg := udp[45:]
		if pg[4] != 0 || pg[5] != 0 {
			continue // fragment
		}
		count := int(binary.LittleEndian.Uint16(pg[6:]))
		pos := 8 + 2*count
		for i := 0; i < count; i++ {
			l := int(binary.LittleEndian.Uint16(pg[8+2*i:]))
			msg := pg[pos : pos+l]
			pos += l
			// group header "a": 01 00 01 00 61
			if !bytes.HasPrefix(msg, []byte{1, 0, 1, 0, 'a'}) {
				continue
			}
			exec := msg[5:]
			if svc, _, err := ExecHeaderID(exec, false); err != nil || svc != ServiceID {
				continue
			}
			out = append(out, capturedExec{frame: frame, sender: sender, bytes: bytes.Clone(exec)})
		}
	}
	return out
}

func TestGoldenNodeInfoFromCapture(t *testing.T) {
	msgs := votequorumFromPcap(t, "testdata/udpu-2node-join.pcap")
	if len(msgs) < 9 {
		t.Fatalf("found %d votequorum messages in the capture, want at least 9", len(msgs))
	}
	// Frame 2: node 1's first NODEINFO, queued at startup and sent as the
	// very first mcast of its single-node ring: 1 vote, expected 2, FIRST.
	first := msgs[0]
	want, _ := hex.DecodeString("00000500000000002000000000000000" + "01000000010000000200000008000000")
	if first.frame != 2 || first.sender != 1 || !bytes.Equal(first.bytes, want) {
		t.Fatalf("first votequorum message: frame %d sender %d bytes %x, want frame 2 sender 1 bytes %x", first.frame, first.sender, first.bytes, want)
	}
	m, err := Decode(first.bytes, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := (NodeInfo{NodeID: 1, Votes: 1, ExpectedVotes: 2, Flags: NodeFlagFirst}); m != got {
		t.Fatalf("decoded %v, want %v", m, got)
	}
	// Every votequorum message in the capture re-encodes byte for byte
	// (corosync zeroes NODEINFO before filling it).
	for _, c := range msgs {
		m, err := Decode(c.bytes, false)
		if err != nil {
			t.Fatalf("frame %d: %v", c.frame, err)
		}
		if enc := m.Encode(); !bytes.Equal(enc, c.bytes) {
			t.Errorf("frame %d: %v re-encodes as %x, captured %x", c.frame, m, enc, c.bytes)
		}
	}
	// In the two-node ring (frames 66, 68) each node announces itself
	// without FIRST and not yet quorate, then the device pseudo node.
	var late []string
	for _, c := range msgs {
		if c.frame >= 60 {
			m, _ := Decode(c.bytes, false)
			late = append(late, m.String())
		}
	}
	wantLate := []string{
		"NODEINFO nodeid=2 votes=1 expected=2 flags=0", "NODEINFO nodeid=0 votes=0 expected=0 flags=0",
		"NODEINFO nodeid=1 votes=1 expected=2 flags=0", "NODEINFO nodeid=0 votes=0 expected=0 flags=0",
	}
	if !equalStrings(late, wantLate) {
		t.Fatalf("two-node sync NODEINFOs:\n%q\nwant\n%q", late, wantLate)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncodeLayouts(t *testing.T) {
	cases := []struct {
		msg  Message
		want string // hex
	}{
		{Reconfigure{NodeID: 3, Value: 5, Param: ParamExpectedVotes},
			"01000500000000002000000000000000" + "03000000" + "05000000" + "01000000" + "00000000"},
		{QdeviceReg{Operation: QdeviceOpRegister, Name: "Qdev"},
			"02000500000000001801000000000000" + "01000000" + "51646576" + zeros(251+5)},
		{QdeviceReconfigure{OldName: "a", NewName: "bc"},
			"03000500000000001002000000000000" + "61" + zeros(254) + "6263" + zeros(253+2)},
	}
	for _, c := range cases {
		got := hex.EncodeToString(c.msg.Encode())
		if got != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.msg, got, c.want)
		}
		back, err := Decode(c.msg.Encode(), false)
		if err != nil || back != c.msg {
			t.Errorf("%v: round trip gave %v, %v", c.msg, back, err)
		}
	}
}

func zeros(n int) string { return hex.EncodeToString(make([]byte, n)) }

// A big-endian sender's message: every integer swapped, the u8 param and
// the names untouched.
func TestDecodeBigEndianSender(t *testing.T) {
	be := binary.BigEndian
	b := make([]byte, NodeInfoSize)
	be.PutUint32(b[0:], 5<<16|FnNodeInfo)
	be.PutUint32(b[8:], NodeInfoSize)
	be.PutUint32(b[16:], 7)
	be.PutUint32(b[20:], 2)
	be.PutUint32(b[24:], 9)
	be.PutUint32(b[28:], NodeFlagQuorate|NodeFlagQdeviceAlive)
	m, err := Decode(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (NodeInfo{NodeID: 7, Votes: 2, ExpectedVotes: 9, Flags: NodeFlagQuorate | NodeFlagQdeviceAlive}); m != want {
		t.Fatalf("got %v want %v", m, want)
	}
	// read as little-endian it is not even a votequorum message
	if _, err := Decode(b, false); !errors.Is(err, ErrNotVotequorum) {
		t.Fatalf("little-endian read of a big-endian message: %v", err)
	}

	r := make([]byte, ReconfigureSize)
	be.PutUint32(r[0:], 5<<16|FnReconfigure)
	be.PutUint32(r[16:], 4)
	be.PutUint32(r[20:], 300)
	r[24] = ParamNodeVotes
	m, err = Decode(r, true)
	if err != nil || m != (Reconfigure{NodeID: 4, Value: 300, Param: ParamNodeVotes}) {
		t.Fatalf("reconfigure: %v %v", m, err)
	}

	q := QdeviceReg{Operation: QdeviceOpUnregister, Name: "dev"}.Encode()
	be.PutUint32(q[0:], 5<<16|FnQdeviceReg)
	be.PutUint32(q[16:], QdeviceOpRegister)
	m, err = Decode(q, true)
	if err != nil || m != (QdeviceReg{Operation: QdeviceOpRegister, Name: "dev"}) {
		t.Fatalf("qdevice reg: %v %v", m, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := NodeInfo{NodeID: 1}.Encode()
	if _, err := Decode(good[:31], false); !errors.Is(err, ErrShort) {
		t.Errorf("short nodeinfo: %v", err)
	}
	if _, err := Decode(good[:10], false); !errors.Is(err, ErrShort) {
		t.Errorf("short header: %v", err)
	}
	other := bytes.Clone(good)
	other[2] = 2 // cpg
	if _, err := Decode(other, false); !errors.Is(err, ErrNotVotequorum) {
		t.Errorf("cpg message: %v", err)
	}
	fn := bytes.Clone(good)
	fn[0] = 4
	if _, err := Decode(fn, false); !errors.Is(err, ErrUnknownFn) {
		t.Errorf("fn 4: %v", err)
	}
	reg := QdeviceReg{Name: "x"}.Encode()
	for i := qdeviceRegNameOff; i < qdeviceRegNameOff+QdeviceMaxNameLen; i++ {
		reg[i] = 'x'
	}
	if _, err := Decode(reg, false); !errors.Is(err, ErrUnterminated) {
		t.Errorf("unterminated name: %v", err)
	}
	// Trailing alignment padding is never read: a RECONFIGURE cut right
	// after its param still decodes, and garbage in padding is ignored.
	rc := Reconfigure{NodeID: 2, Value: 3, Param: ParamCancelWFA}.Encode()
	rc[4], rc[12], rc[25], rc[31] = 0xde, 0xad, 0xbe, 0xef
	if m, err := Decode(rc[:25], false); err != nil || m != (Reconfigure{NodeID: 2, Value: 3, Param: ParamCancelWFA}) {
		t.Errorf("reconfigure without tail: %v %v", m, err)
	}
	if m, err := Decode(rc, false); err != nil || m != (Reconfigure{NodeID: 2, Value: 3, Param: ParamCancelWFA}) {
		t.Errorf("reconfigure with garbage padding: %v %v", m, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(NodeInfo{NodeID: 1, Votes: 1, ExpectedVotes: 2, Flags: NodeFlagFirst}.Encode(), false)
	f.Add(Reconfigure{NodeID: 1, Value: 3, Param: ParamExpectedVotes}.Encode(), true)
	f.Add(QdeviceReg{Operation: QdeviceOpRegister, Name: "Qdevice"}.Encode(), false)
	f.Add(QdeviceReconfigure{OldName: "a", NewName: "b"}.Encode(), false)
	f.Add([]byte{0, 0, 5, 0}, false)
	for _, c := range capturedSeeds(f) {
		f.Add(c, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, bigEndian bool) {
		m, err := Decode(b, bigEndian)
		if err != nil {
			return
		}
		// What decodes must re-encode into something that decodes the same.
		enc := m.Encode()
		back, err := Decode(enc, false)
		if err != nil || back != m {
			t.Fatalf("%v: re-encoded %x decodes as %v, %v", m, enc, back, err)
		}
		_ = m.String()
	})
}

// capturedSeeds are the votequorum messages of the capture, as fuzz seeds.
func capturedSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, c := range votequorumFromPcapFile(f, "testdata/udpu-2node-join.pcap") {
		out = append(out, c.bytes)
	}
	if len(out) == 0 {
		f.Fatal("no seeds from the capture")
	}
	return out
}

// FuzzDeliver feeds a machine a membership and then arbitrary bytes, cut
// into exec messages from arbitrary senders, mixed with commands and time.
// Nothing may panic, and the machine's numbers must stay coherent.
func FuzzDeliver(f *testing.F) {
	f.Add([]byte{}, uint8(3))
	f.Add(append(NodeInfo{NodeID: 2, Votes: 1, ExpectedVotes: 3, Flags: NodeFlagQuorate}.Encode(),
		Reconfigure{NodeID: 1, Value: 1, Param: ParamExpectedVotes}.Encode()...), uint8(3))
	f.Add(append(NodeInfo{NodeID: 0, Votes: 9}.Encode(), QdeviceReg{Operation: QdeviceOpRegister, Name: "q"}.Encode()...), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, nodes uint8) {
		n := uint32(nodes%6) + 1
		var list []NodeEntry
		var members []uint32
		for id := uint32(1); id <= n; id++ {
			list = append(list, NodeEntry{NodeID: id})
			members = append(members, id)
		}
		cfg := Config{NodeID: 1, Nodelist: list, LastManStanding: n%2 == 0, AutoTieBreaker: n == 4,
			Qdevice: QdeviceConfig{Model: map[bool]string{true: "net"}[n == 3]}}
		m, err := New(cfg, t0)
		if err != nil {
			t.Fatal(err)
		}
		m.SyncInit(nil, members, RingID{1, 4})
		m.SyncProcess()
		now := t0
		for len(data) >= 2 {
			op, sender := data[0], uint32(data[1]%8)
			data = data[2:]
			switch op % 8 {
			case 0, 1, 2, 3:
				size := NodeInfoSize
				switch op % 4 {
				case 1:
					size = ReconfigureSize
				case 2:
					size = QdeviceRegSize
				case 3:
					size = QdeviceReconfigureSize
				}
				size = min(size, len(data))
				_ = m.DeliverBytes(sender, data[:size], op&0x80 != 0)
				data = data[size:]
			case 4:
				now = now.Add(time.Duration(sender) * 3 * time.Second)
				m.Tick(now)
			case 5:
				m.SetExpected(sender)
				m.SetVotes(sender%4, uint32(op>>4))
			case 6:
				m.QdeviceRegister("q")
				m.QdevicePoll("q", sender&1 == 1, m.RingID())
				m.QdeviceMasterWins("q", sender&2 == 2)
			case 7:
				m.SyncActivate()
				m.SyncInit(nil, members[:1+int(sender)%len(members)], RingID{1, uint64(8 + sender)})
				m.SyncProcess()
			}
			r := m.Ready()
			for _, msg := range r.Messages {
				if _, err := Decode(msg.Encode(), false); err != nil {
					t.Fatalf("machine sent undecodable %v: %v", msg, err)
				}
			}
			info, st := m.GetInfo(0)
			if st != OK {
				t.Fatalf("GetInfo(0) = %v", st)
			}
			if info.Flags&InfoQuorate != 0 != m.Quorate() {
				t.Fatalf("GetInfo quorate flag disagrees with Quorate()")
			}
			_ = m.RuntimeKeys()
			_ = m.QuorumNotification()
		}
	})
}
