package heartbeat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// XDP return codes.
const (
	xdpDrop = 1
	xdpPass = 2
	xdpTx   = 3
)

// TC return codes.
const (
	tcOK       = 0
	tcShot     = 2
	tcRedirect = 7
)

// hook is where the responder runs: the context's layout and the verdicts
// differ, the logic is the same.
type hook struct {
	name            string
	typ             ebpf.ProgramType
	dataOff, endOff int16 // packet pointers in the context
	pass, drop      int32
	// tc: the answer leaves through bpf_redirect to the interface it came
	// in on (TC has no XDP_TX); ifindex is read from the __sk_buff.
	tc bool
}

var (
	hookXDP = hook{name: "rf_heartbeat", typ: ebpf.XDP, dataOff: 0, endOff: 4, pass: xdpPass, drop: xdpDrop}
	// __sk_buff: ifindex at 40, data at 76, data_end at 80.
	hookTC = hook{name: "rf_heartbeat_tc", typ: ebpf.SchedCLS, dataOff: 76, endOff: 80, pass: tcOK, drop: tcShot, tc: true}
)

const (
	skbIfindexOff = 40
	ifindexSlot   = -64 // stack slot for the ingress ifindex (TC)
)

// Offsets in an untagged Ethernet + IPv4 (no options) + UDP frame.
const (
	offEthType  = 12
	offIPVerIHL = 14
	offIPProto  = 23
	offIPSrc    = 26
	offIPDst    = 30
	offUDPSrc   = 34
	offUDPDst   = 36
	offUDPCsum  = 40
	offPayload  = 42
	frameLen    = offPayload + PacketLen
)

// recordSize is the BPF map value: Record's six u64.
const recordSize = 48

// stampSize is the config map value: liveness stamp and grace, ns.
const stampSize = 16

// maps holds the program's two maps.
type maps struct {
	records *ebpf.Map // hash Key → Record
	stamp   *ebpf.Map // array[1] {stamp, grace}
}

func newMaps(peers int) (*maps, error) {
	rec, err := ebpf.NewMap(&ebpf.MapSpec{Name: "rf_hb_records", Type: ebpf.Hash, KeySize: 8, ValueSize: recordSize, MaxEntries: uint32(max(64, 4*peers))})
	if err != nil {
		return nil, err
	}
	st, err := ebpf.NewMap(&ebpf.MapSpec{Name: "rf_hb_stamp", Type: ebpf.Array, KeySize: 4, ValueSize: stampSize, MaxEntries: 1})
	if err != nil {
		rec.Close()
		return nil, err
	}
	return &maps{records: rec, stamp: st}, nil
}

func (m *maps) Close() {
	m.records.Close()
	m.stamp.Close()
}

// program builds the responder for nodeID on UDP port, for the XDP hook
// or the TC ingress hook:
//
//   - a probe for nodeID: record it; while now - stamp <= grace, turn it
//     into an answer in place (swap MACs, addresses, ports, from/to; UDP
//     checksum 0, which IPv4 allows; the IP checksum is unchanged by the
//     swap) and send it back out of the interface it came in on (XDP_TX,
//     or bpf_redirect to the ingress ifindex under TC); otherwise drop it,
//     like a hung daemon would;
//   - an answer for nodeID: record it and its RTT, drop it;
//   - anything else: pass. Under TC that includes a probe whose first
//     frameLen bytes are not in the linear part of the skb; the daemon's
//     socket reader answers it by the same rule.
//
// Loads from the packet read network order into a little-endian register,
// so constants are compared byte-swapped and fields are swapped back with
// HostTo(BE). Word compares use the 32-bit jumps: a 64-bit compare would
// sign-extend the immediate.
func program(nodeID uint32, port uint16, m *maps, h hook) asm.Instructions {
	const (
		rCtx   = asm.R6
		rData  = asm.R7
		rEnd   = asm.R8
		rNow   = asm.R9
		rRec   = asm.R6 // after the packet pointers are loaded
		keyOff = -8
		valOff = -56
		idxOff = -12
	)
	magicLE := int32(binary.LittleEndian.Uint32(magic[:]))
	prologue := asm.Instructions{asm.Mov.Reg(rCtx, asm.R1)}
	if h.tc {
		prologue = append(prologue,
			asm.LoadMem(asm.R2, rCtx, skbIfindexOff, asm.Word),
			asm.StoreMem(asm.R10, ifindexSlot, asm.R2, asm.Word))
	}
	send := asm.Instructions{asm.Mov.Imm(asm.R0, xdpTx), asm.Return()}
	if h.tc {
		send = asm.Instructions{
			asm.LoadMem(asm.R1, asm.R10, ifindexSlot, asm.Word),
			asm.Mov.Imm(asm.R2, 0), // egress
			asm.FnRedirect.Call(),
			asm.Return(),
		}
	}
	body := asm.Instructions{
		asm.LoadMem(rData, rCtx, h.dataOff, asm.Word),
		asm.LoadMem(rEnd, rCtx, h.endOff, asm.Word),
		asm.Mov.Reg(asm.R2, rData),
		asm.Add.Imm(asm.R2, frameLen),
		asm.JGT.Reg(asm.R2, rEnd, "pass"),
		asm.LoadMem(asm.R2, rData, offEthType, asm.Half),
		asm.JNE.Imm(asm.R2, int32(bits.ReverseBytes16(0x0800)), "pass"),
		asm.LoadMem(asm.R2, rData, offIPVerIHL, asm.Byte),
		asm.JNE.Imm(asm.R2, 0x45, "pass"),
		asm.LoadMem(asm.R2, rData, offIPProto, asm.Byte),
		asm.JNE.Imm(asm.R2, 17, "pass"),
		asm.LoadMem(asm.R2, rData, offUDPDst, asm.Half),
		asm.JNE.Imm(asm.R2, int32(bits.ReverseBytes16(port)), "pass"),
		asm.LoadMem(asm.R2, rData, offPayload, asm.Word),
		asm.JNE.Imm32(asm.R2, magicLE, "pass"),
		asm.LoadMem(asm.R2, rData, offPayload+4, asm.Byte),
		asm.JNE.Imm(asm.R2, version, "pass"),
		asm.LoadMem(asm.R2, rData, offPayload+12, asm.Word),
		asm.JNE.Imm32(asm.R2, int32(bits.ReverseBytes32(nodeID)), "pass"),
		asm.LoadMem(asm.R2, rData, offPayload+5, asm.Byte),
		asm.JEq.Imm(asm.R2, TypeProbe, "known"),
		asm.JNE.Imm(asm.R2, TypeAnswer, "pass"),

		// key = {from (host order), link}
		asm.LoadMem(asm.R2, rData, offPayload+8, asm.Word).WithSymbol("known"),
		asm.HostTo(asm.BE, asm.R2, asm.Word),
		asm.StoreMem(asm.R10, keyOff, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, rData, offPayload+6, asm.Byte),
		asm.StoreMem(asm.R10, keyOff+4, asm.R2, asm.Word),
		asm.FnKtimeGetNs.Call(),
		asm.Mov.Reg(rNow, asm.R0),
		asm.LoadMapPtr(asm.R1, m.records.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, keyOff),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "have"),
		asm.Mov.Imm(asm.R3, 0),
		asm.StoreMem(asm.R10, valOff, asm.R3, asm.DWord),
		asm.StoreMem(asm.R10, valOff+8, asm.R3, asm.DWord),
		asm.StoreMem(asm.R10, valOff+16, asm.R3, asm.DWord),
		asm.StoreMem(asm.R10, valOff+24, asm.R3, asm.DWord),
		asm.StoreMem(asm.R10, valOff+32, asm.R3, asm.DWord),
		asm.StoreMem(asm.R10, valOff+40, asm.R3, asm.DWord),
		asm.LoadMapPtr(asm.R1, m.records.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, keyOff),
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Add.Imm(asm.R3, valOff),
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY: a racing insert is fine
		asm.FnMapUpdateElem.Call(),
		asm.LoadMapPtr(asm.R1, m.records.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, keyOff),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "pass"),

		asm.Mov.Reg(rRec, asm.R0).WithSymbol("have"),
		asm.Mov.Imm(asm.R1, 1),
		asm.LoadMem(asm.R2, rData, offPayload+5, asm.Byte),
		asm.JEq.Imm(asm.R2, TypeAnswer, "answer"),

		// A probe.
		asm.StoreMem(rRec, 0, rNow, asm.DWord),
		asm.AddAtomic.Mem(rRec, asm.R1, asm.DWord, 24),
		asm.StoreImm(asm.R10, idxOff, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, m.stamp.FD()),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, idxOff),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "drop"),
		asm.JGE.Reg(asm.R1, rNow, "reply"),
		asm.Mov.Reg(asm.R3, rNow),
		asm.Sub.Reg(asm.R3, asm.R1),
		asm.JGT.Reg(asm.R3, asm.R2, "drop"),

		asm.LoadMem(asm.R1, rData, 0, asm.Word).WithSymbol("reply"),
		asm.LoadMem(asm.R2, rData, 4, asm.Half),
		asm.LoadMem(asm.R3, rData, 6, asm.Word),
		asm.LoadMem(asm.R4, rData, 10, asm.Half),
		asm.StoreMem(rData, 0, asm.R3, asm.Word),
		asm.StoreMem(rData, 4, asm.R4, asm.Half),
		asm.StoreMem(rData, 6, asm.R1, asm.Word),
		asm.StoreMem(rData, 10, asm.R2, asm.Half),
		asm.LoadMem(asm.R1, rData, offIPSrc, asm.Word),
		asm.LoadMem(asm.R2, rData, offIPDst, asm.Word),
		asm.StoreMem(rData, offIPSrc, asm.R2, asm.Word),
		asm.StoreMem(rData, offIPDst, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, rData, offUDPSrc, asm.Half),
		asm.LoadMem(asm.R2, rData, offUDPDst, asm.Half),
		asm.StoreMem(rData, offUDPSrc, asm.R2, asm.Half),
		asm.StoreMem(rData, offUDPDst, asm.R1, asm.Half),
		asm.StoreImm(rData, offUDPCsum, 0, asm.Half),
		asm.StoreImm(rData, offPayload+5, TypeAnswer, asm.Byte),
		asm.StoreImm(rData, offPayload+7, FlagKernel, asm.Byte),
		asm.LoadMem(asm.R1, rData, offPayload+8, asm.Word),
		asm.LoadMem(asm.R2, rData, offPayload+12, asm.Word),
		asm.StoreMem(rData, offPayload+8, asm.R2, asm.Word),
		asm.StoreMem(rData, offPayload+12, asm.R1, asm.Word),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(rRec, asm.R1, asm.DWord, 40),
	}
	body = append(body, send...)
	body = append(body, asm.Instructions{
		// An answer: last seen, RTT from the echoed stamp, count.
		asm.StoreMem(rRec, 8, rNow, asm.DWord).WithSymbol("answer"),
		asm.AddAtomic.Mem(rRec, asm.R1, asm.DWord, 32),
		asm.LoadMem(asm.R1, rData, offPayload+20, asm.DWord),
		asm.HostTo(asm.BE, asm.R1, asm.DWord),
		asm.JGT.Reg(asm.R1, rNow, "drop"),
		asm.Mov.Reg(asm.R2, rNow),
		asm.Sub.Reg(asm.R2, asm.R1),
		asm.StoreMem(rRec, 16, asm.R2, asm.DWord),

		asm.Mov.Imm(asm.R0, h.drop).WithSymbol("drop"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, h.pass).WithSymbol("pass"),
		asm.Return(),
	}...)
	return append(prologue, body...)
}

// xdpPath is the loaded responder, its maps and its links: the XDP
// program on every link's interface that takes it, the TC ingress program
// on those that do not.
type xdpPath struct {
	maps   *maps
	prog   *ebpf.Program // XDP
	tcProg *ebpf.Program // loaded on the first interface that refuses XDP
	links  []link.Link
	ifs    []string // interfaces with the XDP program
	tcIfs  []string // interfaces with the TC program
	tcWhy  []string // why XDP did not fit each of them
	key    [8]byte
	val    [stampSize]byte
	// Dump's buffers; noBatch once the kernel refused batch lookups.
	keys    []Key
	vals    []Record
	noBatch bool
}

// loadProgram loads the maps and the XDP program.
func loadProgram(cfg Config) (*maps, *ebpf.Program, error) {
	// Only needed before 5.11 (memcg accounting); harmless after.
	_ = rlimit.RemoveMemlock()
	peers := 0
	for _, l := range cfg.Links {
		peers += len(l.Peers)
	}
	m, err := newMaps(peers)
	if err != nil {
		return nil, nil, err
	}
	prog, err := loadHook(cfg, m, hookXDP)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, prog, nil
}

// loadHook loads the responder for hook h on maps m.
func loadHook(cfg Config, m *maps, h hook) (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: h.name, Type: h.typ, License: "GPL",
		Instructions: program(cfg.NodeID, cfg.Port, m, h),
	})
}

// openKernel loads the program and attaches it to the interface of every
// link: generic XDP (it works on veth without an XDP program on the peer,
// which native XDP_TX needs), or, where the interface refuses it (most
// often because another XDP program holds it), the same responder at TC
// ingress (tcx), which shares the interface with other programs.
func openKernel(cfg Config) (kernelPath, error) {
	m, prog, err := loadProgram(cfg)
	if err != nil {
		return nil, classify(err)
	}
	x := &xdpPath{maps: m, prog: prog}
	seen := map[int]bool{}
	for _, l := range cfg.Links {
		ifi, err := interfaceOf(l.Local)
		if err != nil {
			x.Close()
			return nil, err
		}
		if ifi.Flags&net.FlagLoopback != 0 {
			// No link to lose, and a program on the host's lo would sit
			// on all its local traffic: loopback stays in userspace.
			x.Close()
			return nil, fmt.Errorf("%s is a loopback interface", ifi.Name)
		}
		if seen[ifi.Index] {
			continue
		}
		seen[ifi.Index] = true
		lk, xerr := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifi.Index, Flags: link.XDPGenericMode})
		if xerr == nil {
			x.links = append(x.links, lk)
			x.ifs = append(x.ifs, ifi.Name)
			continue
		}
		lk, terr := x.attachTC(cfg, ifi.Index)
		if terr != nil {
			x.Close()
			return nil, fmt.Errorf("attach XDP to %s: %w; TC ingress: %w", ifi.Name, classify(xerr), classify(terr))
		}
		x.links = append(x.links, lk)
		x.tcIfs = append(x.tcIfs, ifi.Name)
		x.tcWhy = append(x.tcWhy, fmt.Sprintf("XDP refused on %s: %v", ifi.Name, classify(xerr)))
	}
	return x, nil
}

// attachTC attaches the TC responder at ingress of interface index,
// loading it first if needed.
func (x *xdpPath) attachTC(cfg Config, index int) (link.Link, error) {
	if x.tcProg == nil {
		p, err := loadHook(cfg, x.maps, hookTC)
		if err != nil {
			return nil, err
		}
		x.tcProg = p
	}
	return link.AttachTCX(link.TCXOptions{Interface: index, Program: x.tcProg, Attach: ebpf.AttachTCXIngress})
}

// classify shortens the common "not allowed" failures to one clear cause.
func classify(err error) error {
	var ve *ebpf.VerifierError
	switch {
	case errors.As(err, &ve):
		return fmt.Errorf("verifier rejected the program: %w", err)
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("kernel lacks support: %w", err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("not permitted (needs CAP_BPF and CAP_NET_ADMIN): %w", err)
	}
	return err
}

func interfaceOf(a netip.Addr) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			if pn, ok := ad.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(pn.IP); ok && ip.Unmap() == a.Unmap() {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no interface holds %s", a)
}

func (x *xdpPath) Mode() string {
	var parts []string
	if len(x.ifs) > 0 {
		parts = append(parts, "XDP generic mode on "+strings.Join(x.ifs, ","))
	}
	if len(x.tcIfs) > 0 {
		parts = append(parts, "TC ingress on "+strings.Join(x.tcIfs, ","))
		parts = append(parts, x.tcWhy...)
	}
	return "kernel (" + strings.Join(parts, "; ") + ")"
}

func (x *xdpPath) Stamp(now, grace uint64) error {
	binary.LittleEndian.PutUint64(x.val[0:], now)
	binary.LittleEndian.PutUint64(x.val[8:], grace)
	return x.maps.stamp.Update(uint32(0), x.val[:], ebpf.UpdateAny)
}

func (x *xdpPath) Lookup(k Key) (Record, error) {
	var r Record
	binary.LittleEndian.PutUint32(x.key[0:], k.Node)
	binary.LittleEndian.PutUint32(x.key[4:], k.Link)
	err := x.maps.records.Lookup(x.key[:], &r)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return Record{}, nil
	}
	return r, err
}

// Dump reads every record with one batch syscall per chunk (a lookup per
// key costs a syscall each, which at 32 nodes is most of the probe cost);
// kernels without batch lookups get the per-key path.
func (x *xdpPath) Dump(into map[Key]Record) error {
	if !x.noBatch {
		if x.keys == nil {
			n := int(x.maps.records.MaxEntries())
			x.keys, x.vals = make([]Key, n), make([]Record, n)
		}
		var cursor ebpf.MapBatchCursor
		for {
			n, err := x.maps.records.BatchLookup(&cursor, x.keys, x.vals, nil)
			for i := 0; i < n; i++ {
				into[x.keys[i]] = x.vals[i]
			}
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return nil
			}
			if errors.Is(err, ebpf.ErrNotSupported) {
				x.noBatch = true
				break
			}
			if err != nil {
				return err
			}
		}
	}
	var k Key
	var r Record
	it := x.maps.records.Iterate()
	for it.Next(&k, &r) {
		into[k] = r
	}
	return it.Err()
}

func (x *xdpPath) Close() error {
	for _, l := range x.links {
		l.Close()
	}
	x.prog.Close()
	if x.tcProg != nil {
		x.tcProg.Close()
	}
	x.maps.Close()
	return nil
}
