# Ringfence build, test and benchmark entry points. `make test` is the one
# test command; .ci/run calls it after `make deps`.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 10s
# The race detector multiplies run time; keep it on the packages whose
# concurrency matters and whose tests are quick enough under it.
RACE_PKGS := ./cmap ./ipc/... ./totem/... ./exec/... ./cpg/...
# Debian packages the tests use as references (real corosync, its client
# libraries and tools, Pacemaker's scheduler as an oracle, capture tools).
DEB_PKGS  := corosync pacemaker pacemaker-cli-utils libcpg-dev libcmap-dev \
             libquorum-dev libvotequorum-dev libcfg-dev libqb-dev gcc make \
             iproute2 tcpdump python3 procps nftables fence-agents \
             resource-agents corosync-qnetd corosync-qdevice

.PHONY: all build test vet fmt-check unit race sim bench fuzz demo deps clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/... ./tools/...

test: fmt-check vet build unit sim

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 25m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 25m $$($(GO) list ./... | grep -v -e '/cmap$$' -e '/ipc' -e '/totem/' -e '/exec' -e '/cpg$$' -e '/cpg/')

# Deterministic simulation of the Totem ring under faults: virtual
# synchrony and the quorum invariant (no two partitions quorate) checked
# after every step, 500 seeds over 2-16 nodes.
sim:
	$(GO) run ./tools/totemsim -nodes 2-16 -seeds 500 -faults all

# Micro-benchmarks of every package, then (as root, in network namespaces)
# ring formation and failover of ringfenced and Debian's corosync side by
# side with ratios; BENCH_SIZES picks the cluster sizes.
BENCH_SIZES ?= 3 16 32
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	RINGFENCE_BENCH=1 RINGFENCE_BENCH_SIZES="$(BENCH_SIZES)" $(GO) test -count=1 -timeout 30m -run '^TestFailoverFigures$$' -v ./exec/node
	RINGFENCE_BENCH=1 RINGFENCE_BENCH_SIZES="$(BENCH_SIZES)" $(GO) test -count=1 -timeout 30m -run '^TestCPGBenchFigures$$' -v ./tools/cpgbench
	RINGFENCE_BENCH=1 $(GO) test -count=1 -timeout 30m -run '^TestPacemakerFailoverFigures$$' -v ./exec/node
	RINGFENCE_BENCH=1 $(GO) test -count=1 -timeout 60m -run '^TestHeartbeatFigures$$' -v ./exec/node

# A short run of every fuzz target in the tree (FUZZTIME each).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

demo: build
	@sh tools/demo/demo.sh

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

clean:
	rm -rf $(BIN)
