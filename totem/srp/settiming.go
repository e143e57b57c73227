package srp

// SetTiming replaces the node's timers at run time, as Corosync applies a
// reloaded totem section (corosync-cfgtool -R): timers already running
// keep their deadlines, every timer armed from now on uses the new values.
// A timing the node could not run with is refused and the old one kept.
func (n *Node) SetTiming(t Timing) error {
	cfg := n.cfg
	cfg.Timing = t
	if err := cfg.Validate(); err != nil {
		return err
	}
	n.cfg = cfg
	return nil
}

// Timing is the timing in force.
func (n *Node) Timing() Timing { return n.cfg.Timing }
