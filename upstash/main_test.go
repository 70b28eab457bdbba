package upstash

import (
	"testing"

	"go.uber.org/goleak"
)

// The client's calls, retries and waits must all end with their context: no
// goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
