package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileRingSeq persists the ring sequence in <dir>/ringid_<nodeid>: eight
// bytes in host (little-endian) order, the file Corosync's totemsrp keeps,
// so that a node restarted (or a corosync started in its place) never
// reuses a ring id.
type fileRingSeq struct {
	path string
}

func newFileRingSeq(dir string, nodeID uint32) *fileRingSeq {
	return &fileRingSeq{path: filepath.Join(dir, fmt.Sprintf("ringid_%d", nodeID))}
}

// LoadRingSeq reads the file; a missing file is a fresh node (seq 0), and
// is created so that a state directory we cannot write fails at start
// rather than at the first ring change.
func (f *fileRingSeq) LoadRingSeq() (uint64, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
			return 0, err
		}
		return 0, f.StoreRingSeq(0)
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		// Corosync also starts from 0 when the file is short.
		return 0, nil
	}
	return binary.LittleEndian.Uint64(b), nil
}

// StoreRingSeq writes the file in place, as Corosync does (no rename: the
// file is eight bytes and written with one call).
func (f *fileRingSeq) StoreRingSeq(seq uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seq)
	return os.WriteFile(f.path, b[:], 0o600)
}
