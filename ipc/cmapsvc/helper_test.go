package cmapsvc_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/ipc"
	"github.com/ringfence/ringfence/ipc/cmapsvc"
)

// helperEnv makes the test binary act as a small cmap IPC server (run
// inside a network namespace by the interop tests). It reads commands on
// stdin: "dump" and "dump-stats" print the store in cmapctl format ending
// with "END"; "conns" and "refused" print connection counters; "ready 0"
// and "ready 1" close and open the door. EOF stops it.
const helperEnv = "RINGFENCE_CMAPSVC_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "server":
		os.Exit(runHelperServer())
	case "corosync-client":
		os.Exit(runCorosyncClient())
	case "bench-client":
		os.Exit(runBenchClient())
	}
	os.Exit(m.Run())
}

// fixtureStores builds the maps the helper serves: one key of every type,
// some read-only runtime keys, and a small stats map.
func fixtureStores() (def, stats *cmap.Store) {
	def = cmap.New()
	def.ApplyDefaultReadOnly()
	set := func(s *cmap.Store, k string, v cmap.Value) {
		if err := s.Set(k, v); err != nil {
			panic(err)
		}
	}
	set(def, "totem.cluster_name", cmap.Str("ringfence-test"))
	set(def, "totem.version", cmap.U32(2))
	set(def, "totem.config_version", cmap.U64(7))
	set(def, "totem.transport", cmap.Str("udpu"))
	set(def, "runtime.config.totem.token", cmap.U32(3000))
	set(def, "runtime.config.totem.consensus", cmap.U32(3600))
	set(def, "nodelist.node.0.ring0_addr", cmap.Str("198.18.0.1"))
	set(def, "nodelist.node.0.nodeid", cmap.U32(1))
	set(def, "quorum.provider", cmap.Str("corosync_votequorum"))
	set(def, "quorum.two_node", cmap.U8(1))
	set(def, "test.types.i8", cmap.I8(-8))
	set(def, "test.types.u8", cmap.U8(200))
	set(def, "test.types.i16", cmap.I16(-1600))
	set(def, "test.types.u16", cmap.U16(5405))
	set(def, "test.types.i32", cmap.I32(-320000))
	set(def, "test.types.u32", cmap.U32(4000000000))
	set(def, "test.types.i64", cmap.I64(-6400000000))
	set(def, "test.types.u64", cmap.U64(18000000000000000000))
	set(def, "test.types.flt", cmap.Flt(1.5))
	set(def, "test.types.dbl", cmap.Dbl(-2.25))
	set(def, "test.types.str", cmap.Str("hello world"))
	set(def, "test.types.bin", cmap.Bin([]byte{0, 1, 'a', 0xff}))
	set(def, "test.types.emptystr", cmap.Str(""))
	stats = cmap.New()
	set(stats, "stats.srp.orf_token_rx", cmap.U64(12345))
	set(stats, "stats.srp.mcast_tx", cmap.U64(99))
	set(stats, "stats.pg.msg_queue_avail", cmap.U32(1024))
	stats.SetReadOnly("stats.", true, true)
	return def, stats
}

func runHelperServer() int {
	logrus.SetLevel(logrus.WarnLevel)
	def, stats := fixtureStores()
	svc := cmapsvc.New(def, stats)
	srv := ipc.NewServer(ipc.Config{Authorize: cmapsvc.Authorizer(def), SocketType: os.Getenv(helperEnv+"_SOCKET") == "1"})
	srv.SetReady(true)
	if err := srv.Serve(svc.IPCService()); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	// However the test ends, leave no connection files behind.
	defer func() { cancel(); <-done; srv.Close() }()
	fmt.Println("READY")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "dump":
			cmap.Dump(os.Stdout, def.Iter(""), false)
			fmt.Println("END")
		case "dump-stats":
			cmap.Dump(os.Stdout, stats.Iter(""), false)
			fmt.Println("END")
		case "conns":
			fmt.Println(srv.Stats().Active)
		case "ready 0":
			srv.SetReady(false)
			fmt.Println("done")
		case "ready 1":
			srv.SetReady(true)
			fmt.Println("done")
		case "refused":
			fmt.Println(srv.Stats().Refused)
		}
	}
	return 0
}
