// Package spawn starts the server processes of the test harnesses
// (internal/kubetest, internal/pgtest) so that none outlives the test
// binary: each is started with a parent-death signal from one OS thread
// that lives as long as the children should.
package spawn

import (
	"os/exec"
	"runtime"
)

// Spawner starts processes from one OS thread that lives until Close.
// Linux sends the parent-death signal when the thread that started a
// child ends, not only when the process does; a goroutine locked to its
// thread keeps that thread for as long as the children should live.
type Spawner struct {
	reqs chan request
}

type request struct {
	cmd *exec.Cmd
	err chan error
}

// New starts a Spawner's thread.
func New() *Spawner {
	s := &Spawner{reqs: make(chan request)}
	go func() {
		// Never unlocked: once Close ends this goroutine, its thread
		// exits too, after the children were stopped.
		runtime.LockOSThread()
		for r := range s.reqs {
			r.err <- r.cmd.Start()
		}
	}()
	return s
}

// Start starts cmd from the Spawner's thread (cmd.SysProcAttr should ask
// for a parent-death signal).
func (s *Spawner) Start(cmd *exec.Cmd) error {
	r := request{cmd: cmd, err: make(chan error, 1)}
	s.reqs <- r
	return <-r.err
}

// Close ends the Spawner's thread: its children get their parent-death
// signal. Stop them first for a clean end.
func (s *Spawner) Close() { close(s.reqs) }
