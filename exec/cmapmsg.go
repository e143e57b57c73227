package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/ringfence/ringfence/cmap"
)

// The cmap exec message (exec/cmap.c, service 0 fn 0).
const (
	CmapReasonSync             = 0
	CmapReasonNewConfigVersion = 1

	CmapMcastHeader = 48  // header, reason @16, no_items @24, two reserved bytes @32/@40
	CmapItemHeader  = 280 // key mar_name_t (u16 length, value[256] @8), type @264, value_len u64 @272
	cmapKeyMax      = 256
	// CmapValueNotExist is the item type for a key the sender lacks.
	CmapValueNotExist = 0
	// ConfigVersionKey is the one key Corosync ever sends.
	ConfigVersionKey = "totem.config_version"
)

// CmapItem is one key of a cmap exec message. Type is a cmap.Type value
// or CmapValueNotExist.
type CmapItem struct {
	Key   string
	Type  uint8
	Value []byte
}

// CmapMcast is the cmap exec message.
type CmapMcast struct {
	Reason uint8
	Items  []CmapItem
}

func align8(n int) int { return (n + 7) &^ 7 }

// Encode returns the message as Corosync's iovecs: the 48-byte header,
// then one 8-aligned piece per item. The header id is 0: Corosync never
// sets it, which happens to be service 0 fn 0.
func (m *CmapMcast) Encode() ([][]byte, error) {
	if len(m.Items) > 255 {
		return nil, fmt.Errorf("exec: %d cmap items", len(m.Items))
	}
	iov := [][]byte{make([]byte, CmapMcastHeader)}
	total := CmapMcastHeader
	for _, it := range m.Items {
		if len(it.Key) >= cmapKeyMax {
			return nil, fmt.Errorf("exec: cmap key of %d bytes", len(it.Key))
		}
		b := make([]byte, align8(CmapItemHeader+len(it.Value)))
		binary.LittleEndian.PutUint16(b, uint16(len(it.Key)))
		copy(b[8:], it.Key)
		b[264] = it.Type
		binary.LittleEndian.PutUint64(b[272:], uint64(len(it.Value)))
		copy(b[CmapItemHeader:], it.Value)
		iov = append(iov, b)
		total += len(b)
	}
	PutHeader(iov[0], Header{ID: MakeID(ServiceCMAP, 0), Size: int32(total)})
	iov[0][16] = m.Reason
	iov[0][24] = uint8(len(m.Items))
	return iov, nil
}

// ErrCmapMalformed wraps cmap exec message decoding errors.
var ErrCmapMalformed = errors.New("exec: malformed cmap message")

// DecodeCmapMcast decodes the cmap exec message, converting the numbers
// of a big-endian sender (values by their type, as Corosync does).
func DecodeCmapMcast(b []byte, swapped bool) (*CmapMcast, error) {
	if len(b) < CmapMcastHeader {
		return nil, fmt.Errorf("%w: %d bytes", ErrCmapMalformed, len(b))
	}
	m := &CmapMcast{Reason: b[16]}
	n := int(b[24])
	p := b[CmapMcastHeader:]
	for i := range n {
		if len(p) < CmapItemHeader {
			return nil, fmt.Errorf("%w: item %d truncated", ErrCmapMalformed, i)
		}
		kl := binary.LittleEndian.Uint16(p)
		vl := binary.LittleEndian.Uint64(p[272:])
		if swapped {
			kl, vl = bits.ReverseBytes16(kl), bits.ReverseBytes64(vl)
		}
		if int(kl) >= cmapKeyMax || vl > uint64(len(p)-CmapItemHeader) {
			return nil, fmt.Errorf("%w: item %d key %d value %d bytes", ErrCmapMalformed, i, kl, vl)
		}
		it := CmapItem{Key: string(p[8 : 8+kl]), Type: p[264], Value: append([]byte(nil), p[CmapItemHeader:CmapItemHeader+int(vl)]...)}
		if swapped {
			swapValue(cmap.Type(it.Type), it.Value)
		}
		m.Items = append(m.Items, it)
		step := align8(CmapItemHeader + int(vl))
		if step > len(p) {
			step = len(p)
		}
		p = p[step:]
	}
	return m, nil
}

func swapValue(t cmap.Type, v []byte) {
	var size int
	switch t {
	case cmap.TypeInt16, cmap.TypeUint16:
		size = 2
	case cmap.TypeInt32, cmap.TypeUint32, cmap.TypeFloat:
		size = 4
	case cmap.TypeInt64, cmap.TypeUint64, cmap.TypeDouble:
		size = 8
	}
	if size != 0 && len(v) >= size {
		for i, j := 0, size-1; i < j; i, j = i+1, j-1 {
			v[i], v[j] = v[j], v[i]
		}
	}
}

// Find returns the item for key.
func (m *CmapMcast) Find(key string) (CmapItem, bool) {
	for _, it := range m.Items {
		if it.Key == key {
			return it, true
		}
	}
	return CmapItem{}, false
}
