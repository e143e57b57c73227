package node

import (
	"encoding/binary"
	"strings"

	"github.com/ringfence/ringfence/cmap"
	"github.com/ringfence/ringfence/votequorum"
)

const (
	cancelWFAKey = "quorum.cancel_wait_for_all"
	csOK         = 1 // CS_OK
)

// configWatch is corosync's votequorum_refresh_config: changes of
// quorum.* and nodelist.* in cmap (corosync-cmapctl -s, a full reload)
// make votequorum re-read its settings and announce them, and
// quorum.cancel_wait_for_all set to 1 cancels wait_for_all cluster-wide.
// Corosync runs it inside each cmap change; we drain the trackers from
// the protocol loop, which sees the same changes in the same order.
type configWatch struct {
	// keys sees every change of the map: one queue keeps the reload flag
	// and the quorum.*/nodelist.* changes in the order they happened.
	keys *cmap.Tracker
	// reloading mirrors config.totemconfig_reload_in_progress as the
	// events tell it: changes made during a full reload wait for its end
	// and are refreshed once.
	reloading bool
	// ownReset marks the cancel key's reset to 0 that we made ourselves
	// (its nested reload is part of Machine.CancelWaitForAll).
	ownReset bool
	dropped  uint64
}

func (w *configWatch) start(store *cmap.Store) {
	w.keys = store.Track("", cmap.TrackAdd|cmap.TrackModify|cmap.TrackDelete|cmap.TrackPrefix, 4096)
	r, _ := store.GetUint8(keyTotemReloading)
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
	if d := w.keys.Dropped(); d != w.dropped {
		// Lost events: re-read everything, as a reload would.
		w.dropped, refresh = d, true
	}
	for {
		var ev cmap.Event
		select {
		case ev = <-w.keys.Events():
		default:
			if refresh {
				w.refresh(m, store)
			}
			return
		}
		switch {
		case ev.Key == keyTotemReloading:
			r, _ := ev.New.AsUint64()
			w.reloading = ev.Kind != cmap.EventDelete && r != 0
			// The end of a full reload (corosync-cfgtool -R): one refresh,
			// unless it failed (config.reload_status holds a cs_error_t:
			// CS_OK is 1).
			if !w.reloading {
				if st, err := store.Get(keyReloadStatus); err == nil && st.Type == cmap.TypeInt32 && binary.LittleEndian.Uint32(st.Bytes()) != csOK {
					continue
				}
				refresh = true
			}
		case !watched(ev.Key) || w.reloading:
		case ev.Key == cancelWFAKey && ev.Kind != cmap.EventDelete:
			n, _ := ev.New.AsUint64()
			switch {
			case n == 0 && w.ownReset:
				w.ownReset = false
			case n >= 1:
				if refresh {
					w.refresh(m, store)
					refresh = false
				}
				m.CancelWaitForAll()
				w.ownReset = true
				_ = store.Set(cancelWFAKey, cmap.U8(0))
			default:
				refresh = true
			}
		default:
			refresh = true
		}
	}
}

func (w *configWatch) refresh(m *votequorum.Machine, store *cmap.Store) {
	// ReloadConfig keeps the node id and the ev_tracking store.
	if cfg, ok := storeVoteConfig(store, Settings{}); ok {
		m.ReloadConfig(cfg)
	}
}
