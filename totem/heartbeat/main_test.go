package heartbeat

import (
	"os"
	"testing"
)

// TestMain lets the test binary be re-executed as the responder process,
// as ringfenced's main does.
func TestMain(m *testing.M) {
	ResponderMain()
	if spec := os.Getenv(testDaemonEnv); spec != "" {
		testDaemon(spec)
	}
	os.Exit(m.Run())
}
