//go:build !linux

package host

import "syscall"

// Elsewhere than Linux the worker leads its own process group; there is no parent-death signal
// and no guard.
func workerSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

type guard struct{}

func startGuard() (*guard, error) { return nil, nil }

func (g *guard) watch(int)   {}
func (g *guard) release(int) {}
func (g *guard) close()      {}

func waitExitedNoReap(int) {}
