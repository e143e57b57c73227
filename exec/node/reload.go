package node

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/cmap/coroconf"
	"github.com/ringfence/ringfence/exec/cfgipc"
	"github.com/ringfence/ringfence/ipc"
)

// Keys of the reload protocol: clients (and Corosync's own services)
// watch them to know a reload is under way and how it ended.
const (
	keyTotemReloading = "config.totemconfig_reload_in_progress"
	keyReloading      = "config.reload_in_progress"
	keyReloadStatus   = "config.reload_status"
)

// reloadPrefixes are the sections whose keys a reload replaces: keys
// under them that the new file lacks are deleted (Corosync's
// remove_deleted_entries calls in cfg.c).
var reloadPrefixes = []string{"logging.", "totem.", "nodelist.", "quorum.", "uidgid.config.", "nozzle."}

// readOnlyOnReload are the keys a reload never changes (Corosync's
// remove_ro_entries, udp/udpu build without knet crypto reconfig). The
// interface keys there have no link number, so in practice they never
// match: Corosync lets totem.interface.N.* change in cmap (without effect
// on udp/udpu).
var readOnlyOnReload = []string{
	"totem.secauth", "totem.crypto_hash", "totem.crypto_cipher", "totem.keyfile", "totem.key",
	"totem.version", "totem.threads", "totem.ip_version", "totem.rrp_mode", "totem.netmtu",
	"totem.interface.ringnumber", "totem.interface.bindnetaddr", "totem.interface.mcastaddr",
	"totem.interface.broadcast", "totem.interface.mcastport", "totem.interface.ttl",
	"totem.transport", "totem.cluster_name", "quorum.provider",
	"system.move_to_root_cgroup", "system.allow_knet_handle_fallback", "system.sched_rr",
	"system.priority", "system.qb_ipc_type", "system.state_dir",
}

// reloadOutcome is what a reload did to the store.
type reloadOutcome struct {
	Result ipc.CsError
	// Config is the accepted new file (nil when it was refused).
	Config *coroconf.Config
	// Kept lists the read-only keys whose new values were ignored.
	Kept []string
}

// reloadStore re-reads path into store the way Corosync's cfg service
// does on RELOAD_CONFIG: a file that does not parse is refused with
// CS_ERR_INVALID_PARAM and leaves config.totemconfig_reload_in_progress
// set (Corosync skips its clean-up on that path); an accepted file
// replaces the logging/totem/nodelist/quorum/uidgid keys, keeps the
// read-only ones, and the config.* keys report the outcome.
func reloadStore(store *cmap.Store, path string, env *coroconf.Env, log *logrus.Entry) reloadOutcome {
	_ = store.Set(keyTotemReloading, cmap.U8(1))
	data, rerr := os.ReadFile(path)
	var cfg *coroconf.Config
	var err error
	if rerr == nil {
		cfg, err = coroconf.Parse(path, data, env)
	} else {
		cfg, err = coroconf.ParseFileEnv(path, env) // for corosync's error text
	}
	var ce *coroconf.Error
	if err != nil && errors.As(err, &ce) && parseStage(ce) {
		log.Errorf("Unable to reload config file: %s", ce.Corosync)
		return reloadOutcome{Result: ipc.CsErrInvalidParm}
	}
	_ = store.Set(keyReloading, cmap.U8(1))
	out := reloadOutcome{Result: ipc.CsOK}
	if err != nil {
		text := err.Error()
		if ce != nil {
			text = ce.Corosync
		}
		log.Errorf("Configuration is not valid: %s", text)
		out.Result = ipc.CsErrInvalidParm
	} else {
		out.Config = cfg
		out.Kept = applyReload(store, cfg, data)
		for _, k := range out.Kept {
			log.Infof("Modified entry '%s' in corosync.conf cannot be changed at run-time", k)
		}
	}
	_ = store.Set(keyReloadStatus, cmap.I32(int32(out.Result)))
	_ = store.Set(keyTotemReloading, cmap.U8(0))
	_ = store.Set(keyReloading, cmap.U8(0))
	return out
}

// parseStage tells errors of coroparse (the file cannot be read or
// parsed) from those of the totem checks that come after it.
func parseStage(e *coroconf.Error) bool {
	return strings.HasPrefix(e.Corosync, "parser error:") || strings.HasPrefix(e.Corosync, "Can't read file") ||
		strings.HasPrefix(e.Corosync, "Can't format parser error")
}

// applyReload moves an accepted file into store and returns the
// read-only keys it wanted to change.
func applyReload(store *cmap.Store, cfg *coroconf.Config, data []byte) []string {
	next := map[string]cmap.Value{}
	for _, e := range cfg.Entries {
		if startupOnly(e.Key, data) {
			continue
		}
		next[e.Key] = e.Value
	}
	knetPingTimers(store, next)
	for _, p := range reloadPrefixes {
		for _, e := range store.Iter(p) {
			if _, ok := next[e.Key]; !ok {
				_ = store.Delete(e.Key)
			}
		}
	}
	var kept []string
	for _, k := range readOnlyOnReload {
		v, ok := next[k]
		if !ok {
			continue
		}
		if cur, err := store.Get(k); err != nil || !cur.Equal(v) {
			kept = append(kept, k)
		}
		delete(next, k)
	}
	keys := make([]string, 0, len(next))
	for k := range next {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		_ = store.Set(k, next[k])
	}
	return kept
}

// knetPingTimers recomputes runtime.config.totem.interface.N.knet_ping_*
// as a reload in Corosync does: the link's values are reset, and those
// not set in the file are derived from the token timeout in force before
// this reload (calc_knet_ping_timers runs before the new totem values
// are read), i.e. token / pong_count and token / (2 * pong_count).
func knetPingTimers(store *cmap.Store, next map[string]cmap.Value) {
	token, err := store.GetUint32("runtime.config.totem.token")
	if err != nil {
		return
	}
	const prefix = "runtime.config.totem.interface."
	for k := range next {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		link, leaf, ok := strings.Cut(rest, ".")
		if !ok || (leaf != "knet_ping_timeout" && leaf != "knet_ping_interval") {
			continue
		}
		cfgKey := "totem.interface." + link + "."
		if v, ok := next[cfgKey+leaf]; ok {
			if n, ok := v.AsUint64(); ok {
				next[k] = cmap.U32(uint32(n))
				continue
			}
		}
		pong := uint64(knetPongCount)
		if v, ok := next[cfgKey+"knet_pong_count"]; ok {
			if n, ok := v.AsUint64(); ok && n > 0 {
				pong = n
			}
		}
		if leaf == "knet_ping_interval" {
			pong *= 2
		}
		next[k] = cmap.U32(uint32(uint64(token) / pong))
	}
}

// knetPongCount is Corosync's KNET_PONG_COUNT default.
const knetPongCount = 2

// startupOnly reports keys that Corosync derives from the nodelist only
// at start-up (totem.interface.N.bindnetaddr, and mcastaddr/mcastport of
// udp): a reload's fresh parse lacks them unless the file has them, so
// the reload deletes them.
func startupOnly(key string, data []byte) bool {
	rest, ok := strings.CutPrefix(key, "totem.interface.")
	if !ok {
		return false
	}
	_, leaf, ok := strings.Cut(rest, ".")
	if !ok || (leaf != "bindnetaddr" && leaf != "mcastaddr" && leaf != "mcastport") {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.TrimSpace(k) == leaf {
			return false
		}
	}
	return true
}

// reloadConfig is cfg's RELOAD_CONFIG on this node (every node runs it
// when the request is delivered): the store takes the new file, then the
// parts of the runtime that follow cmap at run time are updated.
func (n *Node) reloadConfig() ipc.CsError {
	log := n.log.WithField("subsys", "CFG")
	out := reloadStore(n.store, n.opts.Config.Path, coroconf.DefaultEnv(), log)
	if out.Config == nil {
		return out.Result
	}
	n.applyRuntime(out.Config)
	return out.Result
}

// applyRuntime carries a reloaded configuration into the running parts
// that Corosync reconfigures from cmap: logging and the udpu member list.
// The totem timing (runtime.config.totem.*, as the reload computed it)
// goes to srp, which arms its next timers with it, as Corosync's
// totemsrp reads its timeouts from the reloaded configuration.
func (n *Node) applyRuntime(cfg *coroconf.Config) {
	mainLog := n.log.WithField("subsys", SubsysMain)
	live := &coroconf.Config{Path: cfg.Path, Entries: n.store.Iter(""), Transport: n.settings.Transport,
		NodeID: n.settings.NodeID, Timing: cfg.Timing, NetMTU: uint32(n.settings.NetMTU)}
	settings, err := SettingsFromConfig(live)
	if err != nil {
		mainLog.WithError(err).Warn("reloaded configuration not applied")
		return
	}
	settings.StateDir = n.settings.StateDir
	if n.opts.Logger == nil {
		n.reopenLogs(settings.Logging)
	}
	if !slices.Equal(settings.Members, n.settings.Members) && n.tr != nil {
		if err := n.tr.SetMembers(settings.Members); err != nil {
			mainLog.WithError(err).Warn("cannot update the transport's member list")
		}
	}
	if settings.Timing != n.settings.Timing {
		if err := n.srp.SetTiming(settings.Timing); err != nil {
			mainLog.WithError(err).Warn("reloaded totem timing not applied")
		} else {
			n.log.WithField("subsys", SubsysTotem).Infof("Token Timeout (%d ms) retransmit timeout (%d ms)",
				settings.Timing.Token.Milliseconds(), settings.Timing.TokenRetransmit.Milliseconds())
			n.settings.Timing = settings.Timing
			n.heartbeatGrace(settings.Timing.Token)
		}
	}
	// votequorum follows the reload through cmap (quorum_reload.go), as
	// Corosync's does when config.totemconfig_reload_in_progress drops.
	n.settings.Logging, n.settings.Members = settings.Logging, settings.Members
}

// reopenLogs rebuilds the logger's outputs (reload, corosync-cfgtool -L).
func (n *Node) reopenLogs(ls LogSettings) ipc.CsError {
	stderr := n.opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	old := n.logClose
	_, closer, err := ConfigureLogger(n.log, ls, stderr)
	if err != nil {
		n.log.WithField("subsys", "CFG").WithError(err).Error("cannot reopen the log files")
		return cfgipcFailedOp
	}
	n.logClose = closer
	if old != nil {
		old.Close()
	}
	return ipc.CsOK
}

// cfgipcFailedOp is CS_ERR_FAILED_OPERATION, what logsys answers when a
// log file cannot be reopened.
const cfgipcFailedOp = ipc.CsError(21)

// cfgConfig wires the cfg service's callbacks into the node.
func (n *Node) cfgConfig(c cfgipc.Config) cfgipc.Config {
	c.ReloadConfig = n.reloadConfig
	c.ReopenLogFiles = func() ipc.CsError {
		if n.opts.Logger != nil {
			return ipc.CsOK // the embedding program owns the logger
		}
		return n.reopenLogs(n.settings.Logging)
	}
	c.Killed = func(by uint32, reason string) { n.failure = &KilledError{By: by, Reason: reason} }
	return c
}

// KilledError is Run's result when another node killed this one with
// corosync-cfgtool -k: Corosync exits at once with status -1 (255),
// without a leave message.
type KilledError struct {
	By     uint32
	Reason string
}

func (e *KilledError) Error() string {
	return "Corosync Cluster Engine exiting with status -1 at cfg.c:566."
}

// ExitCode is the process exit status Corosync uses.
func (e *KilledError) ExitCode() int { return 255 }
