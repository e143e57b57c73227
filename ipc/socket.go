package ipc

import (
	"fmt"
	"net"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ForceFilesystemSocketsFile makes libqb (client and server, each checking
// for itself) use filesystem sockets under SocketDir instead of abstract ones.
const (
	ForceFilesystemSocketsFile = "/etc/libqb/force-filesystem-sockets"
	SocketDir                  = "/var/run"
	listenBacklog              = 128
)

// UseFilesystemSockets reports whether the libqb override file exists.
func UseFilesystemSockets() bool {
	_, err := os.Stat(ForceFilesystemSocketsFile)
	return err == nil
}

// abstractAddr is the address libqb binds and connects: the service name in
// the abstract namespace, NUL-padded to the whole 108-byte sun_path, so the
// address length is 110. A shorter abstract name is a different socket.
//
// x/sys/unix refuses a 108-byte name, so the address is built by hand.
func abstractAddr(name string) (*unix.RawSockaddrUnix, error) {
	if name == "" || len(name) > 106 || strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("ipc: invalid service socket name %q", name)
	}
	sa := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	for i := range len(name) {
		sa.Path[1+i] = int8(name[i])
	}
	return sa, nil
}

// abstractAddrLen is offsetof(sun_path) + 108.
const abstractAddrLen = unsafe.Sizeof(unix.RawSockaddrUnix{})

func rawSockaddrCall(trap uintptr, fd int, sa *unix.RawSockaddrUnix) error {
	for {
		_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(sa)), abstractAddrLen)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// Listen opens the listening socket of one service, the way libqb does:
// SOCK_STREAM, SO_PASSCRED, backlog 128.
func Listen(name string) (*net.UnixListener, error) {
	if UseFilesystemSockets() {
		path := SocketDir + "/" + name
		os.Remove(path)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			return nil, err
		}
		os.Chmod(path, 0777) // the handshake authorises, not the file mode
		setPassCred(l)
		return l, nil
	}
	sa, err := abstractAddr(name)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "@"+name)
	defer f.Close() // FileListener dups the descriptor
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return nil, err
	}
	if err := rawSockaddrCall(unix.SYS_BIND, fd, sa); err != nil {
		return nil, fmt.Errorf("ipc: bind @%s: %w", name, err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		return nil, err
	}
	l, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	return l.(*net.UnixListener), nil
}

func setPassCred(l *net.UnixListener) {
	if rc, err := l.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) })
	}
}

// DialFD connects a blocking stream socket to a service the way libqb
// clients do and returns the raw descriptor.
func DialFD(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if UseFilesystemSockets() {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: SocketDir + "/" + name})
	} else {
		var sa *unix.RawSockaddrUnix
		if sa, err = abstractAddr(name); err == nil {
			err = rawSockaddrCall(unix.SYS_CONNECT, fd, sa)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Cred is what the kernel says about the peer of a setup socket.
type Cred struct {
	PID int
	UID int
	GID int
}

// PeerCred reads SO_PEERCRED of a connected unix socket.
func PeerCred(c *net.UnixConn) (Cred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var uc *unix.Ucred
	var gerr error
	if err := rc.Control(func(fd uintptr) { uc, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return Cred{}, err
	}
	if gerr != nil {
		return Cred{}, gerr
	}
	return Cred{PID: int(uc.Pid), UID: int(uc.Uid), GID: int(uc.Gid)}, nil
}
