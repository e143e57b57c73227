package netns

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SweepIPCRings removes libqb shared-memory rings left in dir (normally
// /dev/shm) by connections whose client and server are both gone. Rings
// are named qb-<client pid>-<server pid>-<fd>-<suffix>: files for
// ringfenced's, directories for libqb 2's. A daemon killed with SIGKILL
// while a client was connected leaves its connection's rings behind, and
// the failover and rolling tests kill many; over a day of runs they
// filled /dev/shm (24 GB of tmpfs) until tests failed for want of memory.
// Rings of a live process are never touched. Flight-recorder files
// (qb-<name>-<pid>-blackbox-data|header, about 8 MB for each corosync
// started: a few GB a day of tests) go too once their process is gone.
// It returns how many entries it removed.
func SweepIPCRings(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		if pid, ok := blackboxPid(e.Name()); ok {
			if !alive(pid) && os.Remove(filepath.Join(dir, e.Name())) == nil {
				removed++
			}
			continue
		}
		client, server, ok := ringPids(e.Name())
		if !ok || alive(client) || alive(server) {
			continue
		}
		if os.RemoveAll(filepath.Join(dir, e.Name())) == nil {
			removed++
		}
	}
	return removed
}

// ringPids parses qb-<client>-<server>-…
func ringPids(name string) (client, server int, ok bool) {
	rest, ok := strings.CutPrefix(name, "qb-")
	if !ok {
		return 0, 0, false
	}
	f := strings.SplitN(rest, "-", 3)
	if len(f) < 3 {
		return 0, 0, false
	}
	c, err1 := strconv.Atoi(f[0])
	s, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || c <= 0 || s <= 0 {
		return 0, 0, false
	}
	return c, s, true
}

// blackboxPid parses qb-<name>-<pid>-blackbox-data and -header.
func blackboxPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "qb-")
	if !ok {
		return 0, false
	}
	base, ok := strings.CutSuffix(rest, "-blackbox-data")
	if !ok {
		if base, ok = strings.CutSuffix(rest, "-blackbox-header"); !ok {
			return 0, false
		}
	}
	i := strings.LastIndexByte(base, '-')
	if i < 1 {
		return 0, false
	}
	pid, err := strconv.Atoi(base[i+1:])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
