package scheduler

import (
	"time"

	"github.com/ringfence/ringfence/crm/cib"
)

// Roles.
const (
	RoleUnknown    = ""
	RoleStopped    = "Stopped"
	RoleStarted    = "Started"
	RoleUnpromoted = "Unpromoted"
	RolePromoted   = "Promoted"
)

func roleRank(r string) int {
	switch r {
	case RoleStopped:
		return 1
	case RoleStarted:
		return 2
	case RoleUnpromoted:
		return 3
	case RolePromoted:
		return 4
	}
	return 0
}

// Node is a cluster, remote or guest node.
type Node struct {
	ID, Name, Kind string // Kind: member, remote, guest
	Online         bool
	Unclean        bool
	Unseen         bool
	Standby        bool
	Pending        bool
	Maintenance    bool
	Shutdown       bool
	ExpectedUp     bool
	Attrs          map[string]string
	Util           map[string]int
	Assigned       int
	RscDiscovery   bool
	Fence          bool
	FenceReason    string
	Conn           *Resource // connection resource for remote/guest nodes
	RemoteReset    bool
	used           map[string]int
	fenceRunnable  bool
	state          *cib.NodeState
}

// available reports whether resources may be placed on the node.
func (n *Node) available() bool {
	return n.Online && !n.Unclean && !n.Standby && !n.Maintenance && !n.Shutdown && !n.Pending
}

// Coloc is a colocation between two resources.
type Coloc struct {
	ID                string
	Dep, Prim         *Resource
	Score             int
	DepRole, PrimRole string
	NodeAttr          string
	Influence         bool
}

// Order is an ordering constraint between two resource actions.
type Order struct {
	ID                  string
	First, Then         *Resource
	FirstOp, ThenOp     string
	Kind                string // Mandatory, Optional, Serialize
	FirstAct, ThenAct   *Action
	requireAllFirstSets []*Resource
}

// Scheduler holds the working set for one run.
type Scheduler struct {
	CIB     *cib.CIB
	Now     time.Time
	Options map[string]string

	Nodes     []*Node
	nodeByID  map[string]*Node
	nodeByNam map[string]*Node

	Resources []*Resource // top level, CIB order
	All       []*Resource // every resource incl. instances
	byID      map[string]*Resource

	Colocs []*Coloc
	Orders []*Order

	StonithEnabled  bool
	HaveQuorum      bool
	NoQuorumPolicy  string
	Symmetric       bool
	StartFatal      bool
	StopAll         bool
	MaintenanceMode bool
	Placement       string
	HaveFencing     bool
	StartupProbes   bool
	ConcurrentFence bool
	StonithAction   string
	ShutdownLock    bool

	Actions   []*Action
	actionKey map[string]*Action
	edges     []*edge
	anyOrders []anyOrder
	byRsc     map[*Resource][]*Action
	RecheckBy time.Time
	warnings  []string
}
