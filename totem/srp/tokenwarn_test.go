package srp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringfence/ringfence/totem/sim"
	"github.com/ringfence/ringfence/totem/srp"
)

type notice struct {
	at   time.Duration
	text string
}

// warnRing forms a two-node ring with the given token timeout and
// token_warning, then cuts node 1 off and returns node 1's notices from
// the cut on, with the cut's time.
func warnRing(t *testing.T, b srp.BaseTiming, after func(s *sim.Sim)) ([]notice, time.Duration) {
	t.Helper()
	b.TokenCoefficientSet = true
	s := sim.New(1, []uint32{1, 2}, srp.TimingFromConfig(b, 2))
	var got []notice
	s.Observe = func(id uint32, rd srp.Ready) {
		if id != 1 {
			return
		}
		for _, text := range rd.Notices {
			got = append(got, notice{s.Now(), text})
		}
	}
	for _, id := range []uint32{1, 2} {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RunFor(5 * b.Token); err != nil {
		t.Fatal(err)
	}
	if !s.Converged() {
		t.Fatalf("ring did not form:\n%s", s.Describe())
	}
	// A running ring (the representative holds an idle token for a while)
	// never warns.
	for _, n := range got {
		if strings.HasPrefix(n.text, "Token has not been received") {
			t.Fatalf("warning on a healthy ring at %s: %q", n.at, n.text)
		}
	}
	got = nil
	cut := s.Now()
	s.Partition([]uint32{1}, []uint32{2})
	if after != nil {
		after(s)
	}
	if err := s.RunFor(2 * b.Token); err != nil {
		t.Fatal(err)
	}
	return got, cut
}

// untilFailure keeps the notices before the token was declared lost.
func untilFailure(t *testing.T, ns []notice) (warnings []notice, failedAt time.Duration) {
	t.Helper()
	for _, n := range ns {
		if strings.HasPrefix(n.text, "A processor failed") {
			return warnings, n.at
		}
		warnings = append(warnings, n)
	}
	t.Fatalf("token never declared lost; notices %v", ns)
	return nil, 0
}

func TestTokenWarningRepeatsUntilTokenLoss(t *testing.T) {
	// token 4000 ms, token_warning 25% → every 1000 ms; the warning due at
	// 4000 ms coincides with the loss, which cancels it.
	ns, cut := warnRing(t, srp.BaseTiming{Token: 4 * time.Second, TokenWarning: 25}, nil)
	warnings, failedAt := untilFailure(t, ns)
	if len(warnings) != 3 {
		t.Fatalf("want 3 warnings before the token loss, got %v", warnings)
	}
	lastToken := failedAt - 4*time.Second
	if lastToken > cut {
		t.Fatalf("last token at %s, after the cut at %s", lastToken, cut)
	}
	for i, w := range warnings {
		late := time.Duration(i+1) * time.Second
		if want := fmt.Sprintf("Token has not been received in %d ms ", late.Milliseconds()); w.text != want {
			t.Errorf("warning %d: %q, want %q", i, w.text, want)
		}
		if w.at != lastToken+late {
			t.Errorf("warning %d at %s, want %s (last token %s)", i, w.at, lastToken+late, lastToken)
		}
	}
}

func TestTokenWarningDefaultIs75Percent(t *testing.T) {
	if tm := srp.DefaultTiming(3); tm.TokenWarning != 75 {
		t.Fatalf("default token_warning %d, want 75", tm.TokenWarning)
	}
	ns, _ := warnRing(t, srp.BaseTiming{Token: time.Second}, nil)
	warnings, _ := untilFailure(t, ns)
	if len(warnings) != 1 || warnings[0].text != "Token has not been received in 750 ms " {
		t.Fatalf("want one warning after 750 ms, got %v", warnings)
	}
}

func TestTokenWarningDisabled(t *testing.T) {
	ns, _ := warnRing(t, srp.BaseTiming{Token: time.Second, TokenWarningSet: true}, nil)
	if warnings, _ := untilFailure(t, ns); len(warnings) != 0 {
		t.Fatalf("token_warning 0 still warns: %v", warnings)
	}
}

// A reload that sets token_warning to 0 stops a warning timer already
// running, as Corosync's timer function checks the value when it fires.
func TestTokenWarningReloadedToZero(t *testing.T) {
	ns, _ := warnRing(t, srp.BaseTiming{Token: time.Second}, func(s *sim.Sim) {
		n := s.Node(1)
		tm := n.Timing()
		tm.TokenWarning = 0
		if err := n.SetTiming(tm); err != nil {
			t.Fatal(err)
		}
	})
	if warnings, _ := untilFailure(t, ns); len(warnings) != 0 {
		t.Fatalf("warned after token_warning was reloaded to 0: %v", warnings)
	}
}

func TestTokenWarningValidated(t *testing.T) {
	tm := srp.DefaultTiming(2)
	tm.TokenWarning = 101
	if err := (srp.Config{NodeID: 1, Timing: tm}).Validate(); err == nil {
		t.Fatal("token_warning 101 accepted")
	}
}

// TokenTimes follows the ring: tokens come every few milliseconds, the
// backlog shows queued messages, and a cut shows in SinceLast.
func TestTokenTimesOnARing(t *testing.T) {
	b := srp.BaseTiming{Token: time.Second, TokenCoefficientSet: true}
	s := sim.New(1, []uint32{1, 2}, srp.TimingFromConfig(b, 2))
	busyTwoNodeRing(t, s)
	tt := s.Node(1).TokenTimes()
	if tt.Tokens != 98 || tt.Rotation <= 0 || tt.Rotation > b.Token || tt.Backlog == 0 || tt.SinceLast >= b.Token {
		t.Fatalf("busy ring: %+v", tt)
	}
	s.Partition([]uint32{1}, []uint32{2})
	if err := s.RunFor(600 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if tt := s.Node(1).TokenTimes(); tt.SinceLast < 600*time.Millisecond || tt.SinceLast >= b.Token {
		t.Fatalf("cut ring: %+v", tt)
	}
}

// avg_token_workload's hold time runs to where the caller says it sent
// the visit's packets and delivered its messages (TokenSent), as
// Corosync's runs to its TOKEN_SENT callback; a visit's start may be
// moved to when the caller took the token in.
func TestTokenHoldEndsWhenTheCallerSentIt(t *testing.T) {
	b := srp.BaseTiming{Token: time.Second, TokenCoefficientSet: true}
	s := sim.New(1, []uint32{1, 2}, srp.TimingFromConfig(b, 2))
	visits, report := 0, true
	s.Observe = func(id uint32, rd srp.Ready) {
		if id != 1 || !rd.TokenVisit {
			return
		}
		visits++
		if report {
			// Started 1 ms after srp saw it, sent and delivered 4 ms after.
			s.Node(1).TokenSent(s.Now()+time.Millisecond, s.Now()+4*time.Millisecond)
		}
	}
	busyTwoNodeRing(t, s)
	tt := s.Node(1).TokenTimes()
	if tt.Tokens == 0 || tt.Hold != 3*time.Millisecond {
		t.Fatalf("%d visits: %+v, want a hold of 3ms", visits, tt)
	}
	// Without TokenSent a visit takes no time on srp's own clock: once
	// the log (100 visits) holds only such visits, the mean is 0.
	report, visits = false, 0
	for visits <= 100 && s.Now() < time.Minute {
		if err := s.RunFor(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if tt := s.Node(1).TokenTimes(); tt.Tokens == 0 || tt.Hold != 0 {
		t.Fatalf("after %d visits not reported sent: %+v", visits, tt)
	}
}

// busyTwoNodeRing forms the ring of nodes 1 and 2 and keeps node 1
// sending 300 messages for 200 ms.
func busyTwoNodeRing(t *testing.T, s *sim.Sim) {
	t.Helper()
	for _, id := range []uint32{1, 2} {
		if err := s.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RunFor(3 * time.Second); err != nil || !s.Converged() {
		t.Fatalf("ring did not form (%v):\n%s", err, s.Describe())
	}
	for i := range 300 {
		if err := s.Broadcast(1, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RunFor(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
