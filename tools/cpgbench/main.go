package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	sizes := flag.String("sizes", "100,1024,10240", "message sizes in bytes, comma separated")
	inflight := flag.Int("inflight", 64, "messages in flight (sent, not yet delivered back)")
	duration := flag.Duration("duration", 5*time.Second, "measuring time per size (after a warm-up)")
	group := flag.String("group", "cpgbench", "CPG group name")
	prefix := flag.String("prefix", os.Getenv("RINGFENCE_IPC_PREFIX"), "IPC service name prefix (ringfenced test instances)")
	flag.Parse()
	cfg := Config{Group: *group, InFlight: *inflight, Duration: *duration, ServicePrefix: *prefix}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1<<20 {
			fmt.Fprintf(os.Stderr, "cpgbench: bad size %q\n", f)
			os.Exit(2)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := Run(ctx, cfg, func(r Result) { fmt.Println(r) }); err != nil {
		fmt.Fprintln(os.Stderr, "cpgbench:", err)
		os.Exit(1)
	}
}
