package votequorum

func (m *Machine) crit(text string) {
	m.logf(LogLine{Level: levelCrit, Subsys: SubsysVotequorum, Text: text})
}

// configFault is a combination corosync refuses at startup but only logs
// (and works around) when the configuration is reloaded at runtime.
func (m *Machine) configFault(runtime bool, err error, fix func()) error {
	if !runtime {
		return err
	}
	m.crit(err.Error())
	fix()
	return nil
}

// readConfig applies the configuration like votequorum_readconfig. At
// startup (runtime false) incompatible settings are errors; at runtime they
// are logged and the quorum device is disabled instead. Settings corosync
// reads only at startup are ignored at runtime.
func (m *Machine) readConfig(cfg Config, runtime bool) error {
	if runtime {
		m.twoNode = false
		m.atb = m.initialATB
		m.setRuntimeU32("runtime.votequorum.atb_type", uint32(m.atb))
	}
	expected := cfg.ExpectedVotes

	// Nodelist: only when our node is listed (nodelist.local_node_pos).
	var nodeVotes, nodeCount, nodeExpected uint32
	haveNodelist := false
	for _, e := range cfg.Nodelist {
		if e.NodeID == cfg.NodeID {
			haveNodelist = true
		}
	}
	if haveNodelist {
		for _, e := range cfg.Nodelist {
			v := uint32(1)
			if e.QuorumVotes != nil {
				v = *e.QuorumVotes
			}
			nodeCount++
			nodeExpected += v
			if e.NodeID == cfg.NodeID {
				nodeVotes = v
			}
		}
	}

	// Quorum device; votes -1 (as uint32) means "derive".
	const votesUnset = ^uint32(0)
	haveQdevice := cfg.Qdevice.Model != ""
	qdeviceVotes := uint32(0)
	if haveQdevice {
		qdeviceVotes = votesUnset
		if cfg.Qdevice.Votes != nil {
			qdeviceVotes = *cfg.Qdevice.Votes
		}
		m.qdeviceTimeout = ms(cfg.Qdevice.TimeoutMS, DefaultQdeviceTimeoutMS)
		m.qdeviceSyncTimeout = ms(cfg.Qdevice.SyncTimeoutMS, DefaultQdeviceSyncTimeoutMS)
		m.updateQdeviceCanOperate(true)
	}
	m.twoNode = cfg.TwoNode

	if !haveNodelist && expected == 0 {
		if !runtime {
			return ErrNoExpectedVotes
		}
		m.crit(ErrNoExpectedVotes.Error())
		m.crit("will continue with current runtime data")
		return nil
	}

	if m.twoNode && haveQdevice {
		if !runtime {
			return ErrTwoNodeQdevice
		}
		m.crit(ErrTwoNodeQdevice.Error())
		if m.us.flags&NodeFlagQdeviceRegistered != 0 {
			m.crit("quorum device is registered, disabling two_node")
			m.twoNode = false
		} else {
			m.crit("quorum device is not registered, allowing two_node")
			m.updateQdeviceCanOperate(false)
		}
	}

	if !runtime {
		m.allowDownscale = cfg.AllowDownscale
		m.wfaAutoset = cfg.WaitForAll == nil
		if cfg.WaitForAll != nil {
			m.waitForAll = *cfg.WaitForAll
		}
		m.lms = cfg.LastManStanding
		m.lmsWindow = ms(cfg.LastManStandingWindowMS, DefaultLMSWindowMS)
		m.evTracking = cfg.ExpectedVotesTracking
		if cfg.AutoTieBreaker {
			m.setATBType(ATBLowest)
		} else {
			m.atb = ATBNone
			if cfg.AutoTieBreakerNode != nil {
				m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum, Text: "auto_tie_breaker_node: is meaningless if auto_tie_breaker is set to 0"})
			}
		}
		if cfg.AutoTieBreaker && cfg.AutoTieBreakerNode != nil {
			t, list := parseATB(*cfg.AutoTieBreakerNode)
			m.atbList = list
			m.setATBType(t)
			if t == ATBNone {
				m.logf(LogLine{Level: levelWarn, Subsys: SubsysVotequorum, Text: "auto_tie_breaker_nodes is not valid. It must be 'lowest', 'highest' or a space-separated list of node IDs. auto_tie_breaker is disabled"})
			}
		}
		m.initialATB = m.atb
		if m.allowDownscale {
			m.evTracking = true
		}
		if m.evTracking {
			if cfg.EVStore == nil {
				return ErrNoEVStore
			}
			v, err := cfg.EVStore.Load()
			if err != nil {
				return ErrEVTrackingLoad
			}
			m.updateEVTrackingBarrier(v)
		}
	}

	if m.wfaAutoset {
		m.waitForAll = m.twoNode
	}

	if m.twoNode && m.atb != ATBNone {
		m.crit("two_node and auto_tie_breaker are both specified but are not compatible.")
		m.crit("two_node has been disabled, please fix your corosync.conf")
		m.twoNode = false
	}

	// An odd cluster with ATB needs wait_for_all, or a restarted half+1
	// without the tie breaker could be quorate on its own.
	if m.atb != ATBNone && nodeExpected%2 == 1 && !m.waitForAll {
		if m.lms {
			m.crit("auto_tie_breaker is set, the cluster has an odd number of nodes")
			m.crit("and last_man_standing is also set. With this situation a better")
			m.crit("solution would be to disable LMS, leave ATB enabled, and also")
			m.crit("enable wait_for_all (mandatory for ATB in odd-numbered clusters).")
			m.crit("Due to this ambiguity, corosync will fail to start. Please fix your corosync.conf")
			return ErrATBLMSOdd
		}
		m.crit("auto_tie_breaker is set and the cluster has an odd number of nodes.")
		m.crit("wait_for_all needs to be set for this configuration but it is missing")
		m.crit("Therefore auto_tie_breaker has been disabled. Please fix your corosync.conf")
		m.setATBType(ATBNone)
	}

	disable := func() {
		m.crit("disabling quorum device operations")
		m.updateQdeviceCanOperate(false)
	}
	if haveQdevice && m.lms {
		if err := m.configFault(runtime, ErrQdeviceLMS, disable); err != nil {
			return err
		}
	}
	if haveQdevice && m.atb != ATBNone {
		if err := m.configFault(runtime, ErrQdeviceATB, disable); err != nil {
			return err
		}
	}
	if haveQdevice && m.allowDownscale {
		if err := m.configFault(runtime, ErrQdeviceDownscale, disable); err != nil {
			return err
		}
	}
	if expected != 0 && haveQdevice && qdeviceVotes == votesUnset {
		if err := m.configFault(runtime, ErrQdeviceVotesExpected, disable); err != nil {
			return err
		}
	}
	if haveQdevice && qdeviceVotes == votesUnset && haveNodelist && nodeCount != nodeExpected {
		if err := m.configFault(runtime, ErrQdeviceVotesUneven, disable); err != nil {
			return err
		}
	}
	if qdeviceVotes > 0 && expected != 0 {
		if int64(int32(expected-qdeviceVotes)) < 2 {
			if err := m.configFault(runtime, ErrQdeviceVotesTooHigh, disable); err != nil {
				return err
			}
		}
	}
	// Derive the device's votes: one fewer than the nodes' votes, so that
	// a single node plus the device is a majority.
	if haveQdevice && qdeviceVotes == votesUnset && expected == 0 && haveNodelist && nodeCount == nodeExpected {
		qdeviceVotes = nodeExpected - 1
		nodeExpected += qdeviceVotes
	}

	if m.evTracking {
		expected = m.evTrackingValue
	}
	if haveNodelist {
		m.us.votes = nodeVotes
		m.us.expected = nodeExpected
	} else {
		m.us.votes = 1
		if cfg.Votes != nil {
			m.us.votes = *cfg.Votes
		}
	}
	if expected != 0 {
		m.us.expected = expected
	}

	if !haveQdevice {
		m.qdevice.votes = 0
	}
	if qdeviceVotes != votesUnset {
		m.qdevice.votes = qdeviceVotes
	}

	m.updateEVBarrier(m.us.expected)
	m.setRuntimeU8("runtime.votequorum.two_node", m.twoNode)
	if m.waitForAll {
		if !runtime {
			m.updateWFAStatus(true)
		}
	} else if m.wfaAutoset && m.wfaStatus {
		m.updateWFAStatus(false)
	}
	return nil
}

// ReloadConfig applies a changed configuration at runtime, as corosync does
// when quorum.* or nodelist.* keys change: only two_node, expected_votes and
// votes take effect; the new values are announced to the cluster.
func (m *Machine) ReloadConfig(cfg Config) {
	oldVotes, oldExpected := m.us.votes, m.us.expected
	keep := m.cfg
	cfg.EVStore = keep.EVStore
	cfg.NodeID = keep.NodeID
	m.cfg = cfg
	_ = m.readConfig(cfg, true)
	m.sendNodeInfo(m.us.id)
	m.sendNodeInfo(QdeviceNodeID)
	if m.us.votes != oldVotes {
		m.send(Reconfigure{NodeID: m.us.id, Value: m.us.votes, Param: ParamNodeVotes})
	}
	if m.us.expected != oldExpected {
		m.send(Reconfigure{NodeID: m.us.id, Value: m.us.expected, Param: ParamExpectedVotes})
	}
}
