package netns

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// arrivals sends n numbered datagrams from one socket to another, paced
// so that no socket buffer overflows, and counts what arrives.
func arrivals(t *testing.T, from, to *net.UDPConn, n int) int {
	t.Helper()
	dst := to.LocalAddr().(*net.UDPAddr).AddrPort()
	got := make(chan int)
	go func() {
		buf := make([]byte, 64)
		c := 0
		for {
			to.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, _, err := to.ReadFromUDPAddrPort(buf); err != nil {
				got <- c
				return
			}
			c++
		}
	}()
	for i := range n {
		if _, err := from.WriteToUDPAddrPort([]byte(fmt.Sprint(i)), dst); err != nil {
			t.Fatalf("send %d: %v (loss must look like the wire, not a send error)", i, err)
		}
		if i%20 == 19 {
			time.Sleep(time.Millisecond)
		}
	}
	return <-got
}

// TestLoss checks the drop rate of Loss in each direction, that the other
// direction and other hosts are untouched, and that ClearLoss restores
// the link.
func TestLoss(t *testing.T) {
	c := NewCluster(t, 3, Options{})
	if err := c.LossAvailable(); err != nil {
		t.Skip(err)
	}
	a, b, o := udpEndpoint(t, c.Hosts[0], 7100), udpEndpoint(t, c.Hosts[1], 7100), udpEndpoint(t, c.Hosts[2], 7100)
	const n = 2000
	// Margins: 20% of 2000 has a standard deviation of ~18 packets.
	lossy := func(what string, got int) {
		t.Helper()
		t.Logf("%s: %d of %d arrived", what, got, n)
		if got < n*70/100 || got > n*90/100 {
			t.Errorf("%s: %d of %d arrived, want about 80%%", what, got, n)
		}
	}
	clean := func(what string, got int) {
		t.Helper()
		if got != n {
			t.Errorf("%s: %d of %d arrived, want all", what, got, n)
		}
	}

	if err := c.Hosts[0].Loss(20, Outbound); err != nil {
		t.Fatal(err)
	}
	lossy("20% outbound on host 1, 1->2", arrivals(t, a, b, n))
	clean("20% outbound on host 1, 2->1", arrivals(t, b, a, n))
	clean("20% outbound on host 1, 3->2", arrivals(t, o, b, n))
	if err := c.Hosts[0].Loss(20, Inbound); err != nil { // replaces the outbound rule
		t.Fatal(err)
	}
	lossy("20% inbound on host 1, 2->1", arrivals(t, b, a, n))
	clean("20% inbound on host 1, 1->2", arrivals(t, a, b, n))
	if c.NetemAvailable() != nil {
		if d, err := c.Hosts[0].LossDropped(); err != nil || d == 0 {
			t.Errorf("LossDropped = %d, %v", d, err)
		}
	}
	if err := c.Hosts[0].ClearLoss(); err != nil {
		t.Fatal(err)
	}
	clean("after ClearLoss, 2->1", arrivals(t, b, a, n))
	if err := c.Hosts[0].ClearLoss(); err != nil {
		t.Fatalf("second ClearLoss: %v", err)
	}
	if err := c.Hosts[0].Loss(0, Both); err == nil {
		t.Error("Loss(0) accepted")
	}

	// Delay needs netem: either it works or it says why.
	if err := c.Hosts[1].Delay(10*time.Millisecond, 0, Both); c.NetemAvailable() != nil && !errors.Is(err, ErrNoNetem) {
		t.Errorf("Delay without netem: %v, want ErrNoNetem", err)
	} else if c.NetemAvailable() == nil && err != nil {
		t.Errorf("Delay: %v", err)
	}
}
