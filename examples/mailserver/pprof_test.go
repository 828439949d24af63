package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPprofFlagLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:0"} {
		cfg, err := parseFlags([]string{"-pprof", addr})
		require.NoError(t, err, addr)
		assert.Equal(t, addr, cfg.pprof)
	}
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.0.2.1:6060", "example.org:6060", "6060"} {
		_, err := parseFlags([]string{"-pprof", addr})
		assert.Error(t, err, addr)
	}
}
