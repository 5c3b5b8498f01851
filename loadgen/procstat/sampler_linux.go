//go:build linux

package procstat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// clockTicks is USER_HZ, the unit of the utime/stime/cutime/cstime fields of
// /proc/PID/stat (what `getconf CLK_TCK` / sysconf(_SC_CLK_TCK) report).
// It is not the kernel's CONFIG_HZ: the kernel converts jiffies to USER_HZ
// before exporting them, and USER_HZ is 100 on every Linux architecture Go
// supports (only alpha and ia64 used 1024), so a constant is correct here.
const clockTicks = 100

const tick = time.Second / clockTicks

// procStat holds the fields of /proc/PID/stat we use. Times are in ticks.
type procStat struct {
	pid, ppid      int32
	state          byte
	utime, stime   uint64 // field 14, 15
	cutime, cstime uint64 // field 16, 17: reaped children
	threads        int64  // field 20
	starttime      uint64 // field 22, ticks since boot
	rssPages       int64  // field 24
}

// Sampler reads a process and its descendants from /proc. Create it with
// NewSampler or NewSelfSampler. It is safe for concurrent use, but meant to be
// driven by a single ticker; buffers are reused between samples.
type Sampler struct {
	mu        sync.Mutex
	pid       int32
	self      bool  // only the process itself, no descendants; fill Goroutines
	ownPid    int32 // our pid: the fd we use to list /proc/<ownPid>/fd is not counted
	pageSize  int64
	start     uint64 // root starttime seen by the first successful sample
	haveStart bool

	path  []byte // NUL-terminated path scratch
	buf   []byte // file content scratch
	dents []byte // getdents64 scratch
	pids  []int32
	procs []procStat
	queue []int32
}

// NewSampler returns a sampler of process pid and all its descendants,
// found by scanning every /proc/*/stat for parent pids on each Sample. The
// scan costs one open/read/close per process on the host (plus a listing of
// /proc/PID/fd per tree member), which is cheap at 1 Hz on ordinary hosts.
// At most MaxProcesses tree members are summed.
//
// The root's start time is remembered on the first successful Sample; if pid
// is later reused by an unrelated process, Sample reports ErrProcessGone.
func NewSampler(pid int) *Sampler {
	return newSampler(pid, false)
}

// NewSelfSampler returns a sampler of the current process alone: its
// descendants (e.g. the worker under test) are not included, and CPU excludes
// the CPU of reaped children. Samples also carry runtime.NumGoroutine().
func NewSelfSampler() *Sampler {
	return newSampler(os.Getpid(), true)
}

func newSampler(pid int, self bool) *Sampler {
	return &Sampler{
		pid:      int32(pid),
		self:     self,
		ownPid:   int32(os.Getpid()),
		pageSize: int64(os.Getpagesize()),
		path:     make([]byte, 0, 64),
		buf:      make([]byte, 4096),
		dents:    make([]byte, 32<<10),
	}
}

// Sample reads the tree now. The error (wrapping ErrProcessGone) is returned
// only if the root process is gone, a zombie, or its pid was reused.
// Descendants vanishing during the scan are skipped silently, and processes
// whose fd directory we may not read (other users) contribute 0 FDs.
func (s *Sampler) Sample() (Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	now := time.Now()
	root, ok := s.readStat(s.pid)
	if !ok || root.state == 'Z' || root.state == 'X' {
		return Sample{}, fmt.Errorf("%w: pid %d", ErrProcessGone, s.pid)
	}
	if !s.haveStart {
		s.start, s.haveStart = root.starttime, true
	} else if root.starttime != s.start {
		return Sample{}, fmt.Errorf("%w: pid %d was reused", ErrProcessGone, s.pid)
	}
	out := Sample{At: now}
	s.add(&out, &root)
	if s.self {
		out.Goroutines = runtime.NumGoroutine()
		return out, nil
	}
	s.addDescendants(&out)
	return out, nil
}

func (s *Sampler) add(out *Sample, p *procStat) {
	user, sys := p.utime, p.stime
	if !s.self {
		user += p.cutime
		sys += p.cstime
	}
	out.CPUUser += time.Duration(user) * tick
	out.CPUSystem += time.Duration(sys) * tick
	out.RSSBytes += p.rssPages * s.pageSize
	out.Threads += p.threads
	out.Processes++
	if p.state != 'Z' && p.state != 'X' {
		out.FDs += s.countFDs(p.pid)
	}
}

// addDescendants scans /proc, builds the parent→children relation and adds
// every descendant of s.pid (breadth first, up to MaxProcesses in total).
func (s *Sampler) addDescendants(out *Sample) {
	s.listPids()
	s.procs = s.procs[:0]
	for _, pid := range s.pids {
		if pid == s.pid {
			continue
		}
		if p, ok := s.readStat(pid); ok {
			s.procs = append(s.procs, p)
		}
	}
	slices.SortFunc(s.procs, func(a, b procStat) int { return int(a.ppid) - int(b.ppid) })

	s.queue = append(s.queue[:0], s.pid)
	for qi := 0; qi < len(s.queue); qi++ {
		parent := s.queue[qi]
		i, _ := slices.BinarySearchFunc(s.procs, parent, func(p procStat, t int32) int { return int(p.ppid) - int(t) })
		for ; i < len(s.procs) && s.procs[i].ppid == parent; i++ {
			if out.Processes >= MaxProcesses {
				return
			}
			s.add(out, &s.procs[i])
			s.queue = append(s.queue, s.procs[i].pid)
		}
	}
}

// setPath writes "/proc/<pid><suffix>\x00" into s.path.
func (s *Sampler) setPath(pid int32, suffix string) {
	s.path = append(s.path[:0], "/proc"...)
	if pid >= 0 {
		s.path = append(s.path, '/')
		s.path = strconv.AppendInt(s.path, int64(pid), 10)
	}
	s.path = append(s.path, suffix...)
	s.path = append(s.path, 0)
}

const atFDCWD = -100 // AT_FDCWD (not exported by package syscall on Linux)

// openPath opens the NUL-terminated path read-only. It avoids syscall.Open,
// which allocates a C string copy of its argument on every call.
func openPath(path []byte, flags int) (int, error) {
	dirfd := atFDCWD
	for {
		r, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(dirfd),
			uintptr(unsafe.Pointer(&path[0])), uintptr(flags|syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(r), nil
	}
}

func (s *Sampler) readStat(pid int32) (procStat, bool) {
	s.setPath(pid, "/stat")
	fd, err := openPath(s.path, 0)
	if err != nil {
		return procStat{}, false
	}
	n := 0
	for {
		if n == len(s.buf) {
			s.buf = append(s.buf, make([]byte, len(s.buf))...)
		}
		m, err := syscall.Read(fd, s.buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		n += m
		if s.buf[n-1] == '\n' { // /proc/PID/stat is one line, returned in one read
			break
		}
	}
	syscall.Close(fd)
	p, ok := parseStat(s.buf[:n])
	return p, ok && p.pid == pid
}

// forEachDirent calls fn with the name of every entry of the directory at
// s.path, using getdents64 into s.dents. It reports false if the directory
// cannot be opened.
func (s *Sampler) forEachDirent(fn func(name []byte)) bool {
	fd, err := openPath(s.path, syscall.O_DIRECTORY)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.Getdents(fd, s.dents)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return true
		}
		// struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }
		for off := 0; off+19 < n; {
			reclen := int(binary.NativeEndian.Uint16(s.dents[off+16:]))
			if reclen == 0 || off+reclen > n {
				break
			}
			name := s.dents[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			fn(name)
			off += reclen
		}
	}
}

// listPids fills s.pids with the numeric entries of /proc.
func (s *Sampler) listPids() {
	s.pids = s.pids[:0]
	s.setPath(-1, "")
	s.forEachDirent(func(name []byte) {
		if pid, ok := parseUint(name); ok && pid > 0 && pid <= 1<<31-1 {
			s.pids = append(s.pids, int32(pid))
		}
	})
}

// countFDs counts /proc/PID/fd entries; 0 if unreadable (other user, gone).
func (s *Sampler) countFDs(pid int32) int64 {
	s.setPath(pid, "/fd")
	var n int64
	s.forEachDirent(func(name []byte) {
		if len(name) > 0 && name[0] != '.' {
			n++
		}
	})
	if pid == s.ownPid && n > 0 {
		n-- // the descriptor we listed it with
	}
	return n
}

// parseStat parses a /proc/PID/stat line. The comm field (2) is enclosed in
// parentheses and may itself contain spaces and parentheses, so it spans from
// the first '(' to the LAST ')'.
func parseStat(b []byte) (p procStat, ok bool) {
	lp := bytes.IndexByte(b, '(')
	rp := bytes.LastIndexByte(b, ')')
	if lp < 0 || rp < lp {
		return procStat{}, false
	}
	pid, ok := parseUint(bytes.TrimSpace(b[:lp]))
	if !ok || pid > 1<<31-1 {
		return procStat{}, false
	}
	p.pid = int32(pid)
	rest := b[rp+1:]
	field := 3
	for field <= 24 {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return procStat{}, false
		}
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		rest = rest[end:]
		switch field {
		case 3:
			if len(tok) != 1 {
				return procStat{}, false
			}
			p.state = tok[0]
		case 4:
			v, ok := parseInt(tok)
			if !ok || v < 0 || v > 1<<31-1 {
				return procStat{}, false
			}
			p.ppid = int32(v)
		case 14, 15, 22:
			v, ok := parseUint(tok)
			if !ok {
				return procStat{}, false
			}
			switch field {
			case 14:
				p.utime = v
			case 15:
				p.stime = v
			default:
				p.starttime = v
			}
		case 16, 17, 20, 24:
			v, ok := parseInt(tok)
			if !ok {
				return procStat{}, false
			}
			v = max(v, 0)
			switch field {
			case 16:
				p.cutime = uint64(v)
			case 17:
				p.cstime = uint64(v)
			case 20:
				p.threads = v
			default:
				p.rssPages = v
			}
		}
		field++
	}
	return p, true
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := parseUint(b)
	if !ok || u > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}
