package netns

import (
	"math/rand/v2"
	"net"
	"testing"
)

// FreeLoopbackPort finds a UDP port free on 127.0.0.1 to 127.0.0.n, for
// tests that run n daemons in one process without namespaces, one per
// loopback address (udpu binds the totem port on each address and an
// ephemeral one, so only the totem port must be free everywhere).
func FreeLoopbackPort(t testing.TB, n int) int {
	t.Helper()
	for range 50 {
		p := 20000 + rand.IntN(30000)
		ok := true
		for i := 1; i <= n && ok; i++ {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, byte(i)), Port: p})
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free UDP port on loopback")
	return 0
}
