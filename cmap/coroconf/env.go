package coroconf

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// Env is everything corosync learns from the machine rather than from the
// file. The zero value is not useful; start from DefaultEnv and override.
type Env struct {
	// Hostname is uname's nodename, matched against nodelist names.
	Hostname string
	// LocalAddrs are the addresses of the local interfaces (getifaddrs).
	// The local node is the one whose name or ring0_addr is one of them.
	LocalAddrs []netip.Addr
	// Resolve maps a host name to addresses (getaddrinfo). IP literals
	// never reach it.
	Resolve func(name string) []netip.Addr
	// ReverseNames maps a local address to host names (getnameinfo).
	// May be nil.
	ReverseNames func(netip.Addr) []string
	// LookupUser and LookupGroup map a name to a numeric id (getpwnam,
	// getgrnam); ok=false when unknown.
	LookupUser  func(name string) (uint32, bool)
	LookupGroup func(name string) (uint32, bool)
	// UidgidDir holds extra uidgid files; default: uidgid.d beside the
	// config file. Empty with NoUidgidDir set means none.
	UidgidDir   string
	NoUidgidDir bool
	// AuthKeyPath is read when crypto is on and no totem.keyfile/key is
	// set (corosync's /etc/corosync/authkey).
	AuthKeyPath string
	// ReadFile reads key files; defaults to os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// DefaultEnv describes the running machine.
func DefaultEnv() *Env {
	host, _ := os.Hostname()
	return &Env{
		Hostname:     host,
		LocalAddrs:   interfaceAddrs(),
		Resolve:      resolveHost,
		ReverseNames: reverseHost,
		LookupUser:   lookupUser,
		LookupGroup:  lookupGroup,
		AuthKeyPath:  "/etc/corosync/authkey",
		ReadFile:     os.ReadFile,
	}
}

func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

func lookupTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Second)
}

func resolveHost(name string) []netip.Addr {
	ctx, cancel := lookupTimeout()
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips
}

func reverseHost(a netip.Addr) []string {
	ctx, cancel := lookupTimeout()
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
	if err != nil {
		return nil
	}
	for i, n := range names {
		if len(n) > 0 && n[len(n)-1] == '.' {
			names[i] = n[:len(n)-1]
		}
	}
	return names
}

func lookupUser(name string) (uint32, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(id), err == nil
}

func lookupGroup(name string) (uint32, bool) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(id), err == nil
}

func (e *Env) uidgidDir(configPath string) string {
	if e.NoUidgidDir {
		return ""
	}
	if e.UidgidDir != "" {
		return e.UidgidDir
	}
	return filepath.Join(filepath.Dir(configPath), "uidgid.d")
}
