package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ringfence/ringfence/cpg/cpgclient"
)

// Config of one run.
type Config struct {
	Group         string
	Sizes         []int
	InFlight      int
	Duration      time.Duration
	ServicePrefix string
}

// Result for one message size.
type Result struct {
	Size     int
	Msgs     int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// MsgsPerSec is the delivery rate.
func (r Result) MsgsPerSec() float64 { return float64(r.Msgs) / r.Elapsed.Seconds() }

// MBPerSec is the payload rate in MB (10^6 bytes) per second.
func (r Result) MBPerSec() float64 { return r.MsgsPerSec() * float64(r.Size) / 1e6 }

func (r Result) String() string {
	return fmt.Sprintf("size=%d msgs=%d msg/s=%.1f MB/s=%.2f p50=%.3fms p99=%.3fms",
		r.Size, r.Msgs, r.MsgsPerSec(), r.MBPerSec(), ms(r.P50), ms(r.P99))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// header: run id (u32), sequence number (u64), send time in ns (u64).
const headerSize = 20

// sender is the state shared by the sending loop and the dispatcher.
type sender struct {
	mu       sync.Mutex
	run      uint32
	slots    chan struct{} // one token per message in flight
	start    time.Time
	lat      []time.Duration
	measured bool // false during the warm-up
}

// Run benchmarks every size in turn on one connection.
func Run(ctx context.Context, cfg Config, out func(Result)) error {
	if cfg.InFlight < 1 {
		return errors.New("cpgbench: in-flight must be at least 1")
	}
	s := &sender{}
	pid := uint32(0)
	conn, err := cpgclient.Dial(cpgclient.Options{
		ServicePrefix: cfg.ServicePrefix,
		Callbacks: cpgclient.Callbacks{Deliver: func(_ string, _ uint32, from uint32, msg []byte) {
			if from != pid || len(msg) < headerSize {
				return
			}
			s.delivered(msg, time.Now())
		}},
	})
	if err != nil {
		return err
	}
	defer conn.Finalize()
	pid = conn.PID()
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	derr := make(chan error, 1)
	go func() { derr <- conn.Run(dctx) }()
	if err := conn.Join(cfg.Group); err != nil {
		return fmt.Errorf("join %s: %w", cfg.Group, err)
	}
	for _, size := range cfg.Sizes {
		r, err := s.measure(ctx, conn, max(size, headerSize), cfg)
		if err != nil {
			return err
		}
		r.Size = size
		out(r)
	}
	cancel()
	if err := <-derr; err != nil {
		return err
	}
	return nil
}

func (s *sender) delivered(msg []byte, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if binary.LittleEndian.Uint32(msg) != s.run {
		return // a late message of an earlier size
	}
	if s.measured {
		sent := time.Unix(0, int64(binary.LittleEndian.Uint64(msg[12:])))
		s.lat = append(s.lat, now.Sub(sent))
	}
	select {
	case <-s.slots:
	default:
	}
}

// measure sends messages of size bytes for cfg.Duration after a short
// warm-up, keeping cfg.InFlight undelivered at most, and waits for the
// stragglers.
func (s *sender) measure(ctx context.Context, conn *cpgclient.Conn, size int, cfg Config) (Result, error) {
	s.mu.Lock()
	s.run++
	s.slots = make(chan struct{}, cfg.InFlight)
	s.lat = s.lat[:0]
	s.measured = false
	run, slots := s.run, s.slots
	s.mu.Unlock()

	msg := make([]byte, size)
	binary.LittleEndian.PutUint32(msg, run)
	warmup := time.Now().Add(min(cfg.Duration/5, time.Second))
	var start, end time.Time
	for seq := uint64(0); ; seq++ {
		now := time.Now()
		if start.IsZero() && now.After(warmup) {
			s.mu.Lock()
			s.measured, s.lat = true, s.lat[:0]
			s.mu.Unlock()
			start = now
			end = now.Add(cfg.Duration)
		}
		if !start.IsZero() && now.After(end) {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(30 * time.Second):
			return Result{}, fmt.Errorf("size %d: no delivery for 30 s", size)
		}
		binary.LittleEndian.PutUint64(msg[4:], seq)
		binary.LittleEndian.PutUint64(msg[12:], uint64(time.Now().UnixNano()))
		for {
			err := conn.Mcast(msg)
			if err == nil {
				break
			}
			if !errors.Is(err, cpgclient.ErrTryAgain) {
				return Result{}, fmt.Errorf("mcast: %w", err)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	// The rate counts what was delivered inside the window; wait for the
	// rest so the next size starts from an empty pipe.
	s.mu.Lock()
	lat := slices.Clone(s.lat)
	s.measured = false
	s.mu.Unlock()
	elapsed := time.Since(start)
	drain := time.Now().Add(30 * time.Second)
	for len(slots) > 0 && time.Now().Before(drain) {
		time.Sleep(time.Millisecond)
	}
	r := Result{Msgs: len(lat), Elapsed: elapsed}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50 = lat[len(lat)/2]
		r.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r, nil
}
