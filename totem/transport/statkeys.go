package transport

// Keys returns the counters under the names the daemon publishes them
// (stats.ringfence.transport.<name>); Corosync's udp and udpu transports
// keep no such counters, so the names are ours.
func (s Stats) Keys() map[string]uint64 {
	return map[string]uint64{
		"tx_datagrams":        s.TxDatagrams,
		"tx_bytes":            s.TxBytes,
		"rx_datagrams":        s.RxDatagrams,
		"rx_bytes":            s.RxBytes,
		"dropped_unlisted":    s.DroppedUnlisted,
		"dropped_truncated":   s.DroppedTruncated,
		"refused_oversize":    s.RefusedOversize,
		"send_errors":         s.SendErrors,
		"dropped_send_full":   s.DroppedSendFull,
		"skipped_unreachable": s.SkippedUnreachable,
		"dropped_queue_full":  s.DroppedQueueFull,
		"tx_gso":              s.TxGSO,
		"gso_fallbacks":       s.GSOFallbacks,
		"rx_gro":              s.RxGRO,
	}
}
