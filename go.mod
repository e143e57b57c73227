module github.com/ringfence/ringfence

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7
	github.com/sirupsen/logrus v1.10.2
	golang.org/x/sys v0.49.0
)

require golang.org/x/net v0.55.0

require github.com/cilium/ebpf v0.22.0
