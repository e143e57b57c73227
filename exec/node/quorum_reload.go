package node

import (
	"encoding/binary"
	"strings"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/votequorum"
)

const (
	reloadKey       = "config.totemconfig_reload_in_progress"
	reloadStatusKey = "config.reload_status"
	cancelWFAKey    = "quorum.cancel_wait_for_all"
	csOK            = 1 // CS_OK
)

// configWatch is corosync's votequorum_refresh_config: changes of
// quorum.* and nodelist.* in cmap (corosync-cmapctl -s, a config reload)
// make votequorum re-read its settings and announce them, and
// quorum.cancel_wait_for_all set to 1 cancels wait_for_all cluster-wide.
// Corosync runs it inside each cmap change; we drain the trackers from
// the protocol loop, which sees the same changes in the same order.
type configWatch struct {
	keys, reload *cmap.Tracker
	// reloading mirrors config.totemconfig_reload_in_progress as the
	// events tell it: changes made during a full reload wait for its end.
	reloading bool
	// ownReset marks the cancel key's reset to 0 that we made ourselves
	// (its nested reload is part of Machine.CancelWaitForAll).
	ownReset bool
	dropped  uint64
}

func (w *configWatch) start(store *cmap.Store) {
	all := cmap.TrackAdd | cmap.TrackModify | cmap.TrackDelete
	// One prefix tracker for both subtrees keeps their events in order;
	// the filter below drops the rest.
	w.keys = store.Track("", all|cmap.TrackPrefix, 4096)
	w.reload = store.Track(reloadKey, cmap.TrackAdd|cmap.TrackModify, 64)
	r, _ := store.GetUint8(reloadKey)
	w.reloading = r != 0
}

func watched(key string) bool {
	return strings.HasPrefix(key, "quorum.") || strings.HasPrefix(key, "nodelist.")
}

// apply carries out what the queued changes ask of m.
func (w *configWatch) apply(m *votequorum.Machine, store *cmap.Store) {
	if w.keys == nil {
		return
	}
	refresh := false
	if d := w.keys.Dropped() + w.reload.Dropped(); d != w.dropped {
		// Lost events: re-read everything, as a reload would.
		w.dropped, refresh = d, true
	}
	for {
		select {
		case ev := <-w.reload.Events():
			r, _ := ev.New.AsUint64()
			w.reloading = r != 0
			if !w.reloading {
				// The end of a full reload: one refresh, unless it failed
				// (config.reload_status holds a cs_error_t: CS_OK is 1).
				if st, err := store.Get(reloadStatusKey); err == nil && st.Type == cmap.TypeInt32 && binary.LittleEndian.Uint32(st.Bytes()) != csOK {
					continue
				}
				refresh = true
			}
			continue
		case ev := <-w.keys.Events():
			if !watched(ev.Key) || w.reloading {
				continue
			}
			if ev.Key == cancelWFAKey && ev.Kind != cmap.EventDelete {
				n, _ := ev.New.AsUint64()
				if n == 0 && w.ownReset {
					w.ownReset = false
					continue
				}
				if n >= 1 {
					if refresh {
						w.refresh(m, store)
						refresh = false
					}
					m.CancelWaitForAll()
					w.ownReset = true
					_ = store.Set(cancelWFAKey, cmap.U8(0))
					continue
				}
			}
			refresh = true
			continue
		default:
		}
		break
	}
	if refresh {
		w.refresh(m, store)
	}
}

func (w *configWatch) refresh(m *votequorum.Machine, store *cmap.Store) {
	// ReloadConfig keeps the node id and the ev_tracking store.
	if cfg, ok := storeVoteConfig(store, Settings{}); ok {
		m.ReloadConfig(cfg)
	}
}
