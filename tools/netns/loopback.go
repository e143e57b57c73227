package netns

import (
	"math/rand/v2"
	"net"
	"testing"
)

// FreeLoopbackPort finds a UDP port p free on 127.0.0.1 to 127.0.0.n,
// for tests that run n daemons in one process without namespaces, one per
// loopback address. A daemon may bind p-1 (udp's sending socket), p (the
// totem port) and p+2 (the heartbeat), so all three must be free on every
// address. Ports come from below the kernel's ephemeral range (32768 up),
// where sockets bound to port 0 by tests in other packages, running at the
// same time, never land.
func FreeLoopbackPort(t testing.TB, n int) int {
	t.Helper()
	for range 100 {
		p := 20001 + rand.IntN(12000)
		if loopbackPortsFree(p, n) {
			return p
		}
	}
	t.Fatal("no free UDP port on loopback")
	return 0
}

func loopbackPortsFree(p, n int) bool {
	for i := 1; i <= n; i++ {
		for _, port := range []int{p - 1, p, p + 2} {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, byte(i)), Port: port})
			if err != nil {
				return false
			}
			c.Close()
		}
	}
	return true
}
