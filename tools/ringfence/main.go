// Command ringfence is the operator CLI. For now it offers "simulate",
// which runs the scheduler on a saved CIB like crm_simulate does.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ringfence/ringfence/crm/cib"
	"github.com/ringfence/ringfence/crm/scheduler"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ringfence simulate -x CIB.xml [-G graph.xml] [-S] [-t DATE]")
		fmt.Fprintln(os.Stderr, "       ringfence netmon [-w] [-i 1s]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "simulate":
		os.Exit(simulate(os.Args[2:], os.Stdout, os.Stderr))
	case "netmon":
		os.Exit(netmon(os.Args[2:], os.Stdout, os.Stderr))
	default:
		fmt.Fprintf(os.Stderr, "ringfence: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func simulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("x", "", "input CIB XML file")
	graph := fs.String("G", "", "write the transition graph to this file")
	summary := fs.Bool("S", false, "print the transition summary")
	date := fs.String("t", "", "evaluate as if this date/time were now (ISO 8601)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *in == "" {
		fmt.Fprintln(stderr, "simulate: -x CIB.xml is required")
		return 2
	}
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintln(stderr, "simulate:", err)
		return 1
	}
	defer f.Close()
	c, err := cib.Parse(f)
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %s: %v\n", *in, err)
		return 1
	}
	now := c.ExecutionDate
	if *date != "" {
		t, err := cib.ParseISOTime(*date)
		if err != nil {
			fmt.Fprintln(stderr, "simulate: -t:", err)
			return 2
		}
		now = t
	}
	if now.IsZero() {
		now = time.Now().UTC()
	}
	res, err := scheduler.Schedule(c, now)
	if err != nil {
		fmt.Fprintln(stderr, "simulate:", err)
		return 1
	}
	if *graph != "" {
		if err := os.WriteFile(*graph, []byte(res.XML), 0o644); err != nil {
			fmt.Fprintln(stderr, "simulate:", err)
			return 1
		}
	}
	if *summary {
		fmt.Fprint(stdout, res.Summary())
	}
	return 0
}
