package ipc_test

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringfence/ringfence/ipc"
)

// FuzzHandshake throws arbitrary first messages at a live server. A valid
// 24-byte connection request must get a 12328-byte success response;
// anything else must make the server close the socket without answering,
// and the server must keep serving.
func FuzzHandshake(f *testing.F) {
	f.Add(ipc.ConnRequest{MaxMsgSize: 1 << 20}.Encode())
	f.Add(ipc.ConnRequest{MaxMsgSize: 0}.Encode())
	f.Add(ipc.ConnRequest{MaxMsgSize: 0xffffffff}.Encode())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x18, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 24))
	f.Add(append(ipc.ConnRequest{MaxMsgSize: 4096}.Encode(), 1, 2, 3))
	fx := startEcho(f, ipc.Config{MaxMsgSize: 64 << 10})
	f.Fuzz(func(t *testing.T, hello []byte) {
		fd, err := ipc.DialFD(fx.name)
		if err != nil {
			t.Fatalf("server stopped accepting: %v", err)
		}
		defer unix.Close(fd)
		unix.Write(fd, hello)
		unix.Shutdown(fd, unix.SHUT_WR)
		var resp []byte
		buf := make([]byte, 16384)
		for {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, _ := unix.Poll(pfd, 5000); n == 0 {
				t.Fatal("server neither answered nor closed")
			}
			n, err := unix.Read(fd, buf)
			if n <= 0 || err != nil {
				break
			}
			resp = append(resp, buf[:n]...)
		}
		_, perr := ipc.ParseConnRequest(firstN(hello, ipc.ConnRequestSize))
		if perr != nil {
			if len(resp) != 0 {
				t.Fatalf("bad hello % x answered with %d bytes", hello, len(resp))
			}
			return
		}
		r, err := ipc.ParseConnResponse(resp)
		if err != nil || r.Err != 0 || r.ConnType != ipc.ConnTypeSHM {
			t.Fatalf("valid hello: response %+v %v", r, err)
		}
		want := binary.LittleEndian.Uint32(hello[16:])
		if r.MaxMsgSize != min(want, 64<<10) {
			t.Fatalf("max_msg_size %d for a request of %d", r.MaxMsgSize, want)
		}
	})
}

func firstN(b []byte, n int) []byte {
	if len(b) < n {
		return b
	}
	return b[:n]
}

// FuzzRingRead corrupts a ring the way a hostile client could (pointers,
// chunk length, magic, payload) and checks that reading it never panics
// and never returns more than the ring can hold.
func FuzzRingRead(f *testing.F) {
	f.Add(uint32(0), uint32(8), []byte{5, 0, 0, 0, 0xa1, 0xa1, 0xa1, 0xa1, 'h', 'e', 'l', 'l', 'o'})
	f.Add(uint32(0), uint32(0), []byte{0xff, 0xff, 0xff, 0xff, 0xa1, 0xa1, 0xa1, 0xa1})
	f.Add(uint32(1020), uint32(3), []byte{})
	f.Add(uint32(7), uint32(0xffffffff), []byte{16, 0, 0, 0, 0xd0, 0xd0, 0xd0, 0xd0})
	f.Fuzz(func(t *testing.T, readPt, writePt uint32, data []byte) {
		dir := t.TempDir()
		r, err := ipc.CreateRing(filepath.Join(dir, "qb-request-x"), 4000, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(true)
		hdrPath, dataPath := r.Paths()
		writeAt(t, hdrPath, 0, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, writePt), readPt))
		if len(data) > 4096 {
			data = data[:4096]
		}
		writeAt(t, dataPath, int64(readPt%1024)*4, data)
		for range 3 {
			if err := ipc.RingPostForTest(r); err != nil {
				t.Fatal(err)
			}
			if !r.TryTake() {
				t.Fatal("semaphore lost a post")
			}
			msg, err := ipc.GuardForTest(func() ([]byte, error) { return r.Read(-1) })
			if err == nil && len(msg) > r.MaxPayload() {
				t.Fatalf("read %d bytes from a ring of %d", len(msg), r.MaxPayload())
			}
		}
		// Writing into whatever state is left must not panic either.
		ipc.GuardForTest(func() ([]byte, error) { return nil, r.Write([]byte("after")) })
	})
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	fd, err := unix.Open(path, unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Pwrite(fd, b, off); err != nil {
		t.Fatal(err)
	}
}
