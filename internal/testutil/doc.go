// Package testutil holds test helpers shared by the server packages: an
// in-memory listener whose connections buffer like TCP and honour deadlines
// (so tests can run under testing/synctest with a fake clock), a goroutine
// leak check for TestMain, and small client helpers.
package testutil
