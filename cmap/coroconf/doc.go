// Package coroconf reads corosync.conf the way Corosync 3.1.7 does and turns
// it into cmap keys.
//
// It reproduces three stages of corosync's start-up, each in its own file:
// the line parser and its per-section typing (lexer.go, sections.go, like
// exec/coroparse.c), the logging checks (logging.go, exec/logconfig.c) and
// the totem configuration read and validation (totem.go, nodelist.go,
// exec/totemconfig.c), which adds generated keys (nodelist.local_node_pos,
// totem.interface.N.bindnetaddr, udp mcastaddr, auto node ids) and the
// effective runtime.config.totem.* values. The goal is the same verdict as
// `corosync -t` and the same keys as a running corosync shows with
// corosync-cmapctl; testdata/conf holds goldens recorded from the real one.
//
// Things corosync learns from the host (host name, local addresses, name
// resolution, users and groups, the authkey file) come through Env so tests
// can fix them.
package coroconf
