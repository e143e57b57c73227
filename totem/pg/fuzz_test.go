package pg

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Fuzz input for FuzzAssemble is a sequence of records
//
//	[control u8][length u16 LE][packet bytes]
//
// control's low two bits pick the sending node; bit 7 flips the phase
// before the delivery; bit 6 reports the node as left first. Bytes that do
// not form a whole record go in as one last packet from node 1.
func appendRecord(dst []byte, control byte, packet []byte) []byte {
	dst = append(dst, control)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(packet)))
	return append(dst, packet...)
}

func captureSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, name := range captures {
		var stream []byte
		for _, m := range readMcasts(f, name) {
			seeds = append(seeds, appendRecord(nil, byte(m.sender&3), m.payload))
			stream = appendRecord(stream, byte(m.sender&3), m.payload)
		}
		seeds = append(seeds, stream)
	}
	return seeds
}

func FuzzAssemble(f *testing.F) {
	for _, s := range captureSeeds(f) {
		f.Add(s, false)
	}
	m := msgA("0123456789")
	f.Add(appendRecord(appendRecord(nil, 1, pkt(1, 0, m[:4])), 1, pkt(0, 1, m[4:])), false)
	f.Add(appendRecord(appendRecord(nil, 1, pkt(3, 2, m[:4])), 0x81, pkt(0, 3, m[4:])), true)
	f.Fuzz(func(t *testing.T, data []byte, swapped bool) {
		const limit = 4096
		a := NewAssembler(limit)
		var total int
		deliver := func(node uint32, p []byte) {
			msgs, err := a.Deliver(nil, node, p, swapped)
			if err != nil && err.Error() == "" {
				t.Fatal("empty error text")
			}
			for _, m := range msgs {
				if len(m.Payload) > limit || m.Node != node || m.Swapped != swapped {
					t.Fatalf("bad message %+v", m)
				}
			}
			total += len(msgs)
		}
		for len(data) > 0 {
			if len(data) < 3 || int(binary.LittleEndian.Uint16(data[1:])) > len(data)-3 {
				deliver(1, data)
				break
			}
			control, n := data[0], int(binary.LittleEndian.Uint16(data[1:]))
			p := data[3 : 3+n]
			data = data[3+n:]
			node := uint32(control & 3)
			if control&0x80 != 0 {
				a.SetPhase(1 - a.Phase())
			}
			if control&0x40 != 0 {
				a.NodesLeft(node)
			}
			deliver(node, p)
		}
		if st := a.Stats(); int(st.Messages) != total {
			t.Fatalf("Stats.Messages %d, returned %d", st.Messages, total)
		}
	})
}

func FuzzSplitGroups(f *testing.F) {
	f.Add([]byte{1, 0, 1, 0, 'a', 1, 2, 3}, false)
	f.Add([]byte{0, 1, 0, 4, 's', 'y', 'n', 'c'}, true)
	f.Add([]byte{3, 0, 1}, false)
	f.Fuzz(func(t *testing.T, data []byte, swapped bool) {
		names, payload, err := SplitGroups(nil, data, swapped)
		if err != nil {
			return
		}
		size := 2 + 2*len(names) + len(payload)
		for _, n := range names {
			size += len(n)
		}
		if size != len(data) {
			t.Fatalf("parts add up to %d of %d bytes", size, len(data))
		}
		if swapped || len(names) > MaxGroupsPerMessage {
			return
		}
		var groups []string
		for _, n := range names {
			if len(n) == 0 {
				return // legal on the wire, refused by our sender
			}
			groups = append(groups, string(n))
		}
		again, err := AppendGroupHeader(nil, groups...)
		if err != nil || !bytes.Equal(append(again, payload...), data) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

// FuzzPackRoundTrip cuts data into messages and iovecs as directed by
// shape, packs them with flushes where shape says, and demands the same
// messages back from the assembler.
func FuzzPackRoundTrip(f *testing.F) {
	f.Add(bytes.Repeat([]byte("x"), 5000), []byte{10, 200, 3, 255, 0, 17})
	f.Add([]byte("hello"), []byte{})
	f.Fuzz(func(t *testing.T, data, shape []byte) {
		p, err := NewPacker(testMTU)
		if err != nil {
			t.Fatal(err)
		}
		type want struct {
			groups  []string
			payload []byte
		}
		var wants []want
		var out []Packet
		rest := data
		for i := 0; i < len(shape) || len(rest) > 0; i++ {
			var c byte
			if i < len(shape) {
				c = shape[i]
			} else {
				c = byte(i)
			}
			size := min(len(rest), int(c)*23)
			msg := rest[:size]
			rest = rest[size:]
			groups := groupPool[:int(c)%3]
			// Split into two iovecs at a shape-chosen point.
			cut := 0
			if size > 0 {
				cut = int(c) * 7 % (size + 1)
			}
			out, err = p.Add(out, Agreed, groups, msg[:cut], msg[cut:])
			if err != nil {
				t.Fatal(err)
			}
			wants = append(wants, want{groups, msg})
			if c&1 == 1 {
				out = p.Flush(out)
			}
			if i > 4*len(data)+len(shape) {
				break
			}
		}
		out = p.Flush(out)
		a := NewAssembler(0)
		var got []Message
		for _, pk := range out {
			if len(pk.Payload) > testMTU {
				t.Fatalf("packet of %d bytes", len(pk.Payload))
			}
			if got, err = a.Deliver(got, 1, pk.Payload, false); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(wants) {
			t.Fatalf("%d messages back, %d sent", len(got), len(wants))
		}
		for i, w := range wants {
			if len(got[i].Groups) != len(w.groups) || !bytes.Equal(got[i].Payload, w.payload) {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}
