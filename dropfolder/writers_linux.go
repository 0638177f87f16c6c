//go:build linux

package dropfolder

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// fileKey names a file whatever its path: it may have been renamed since
// its writer opened it.
type fileKey struct{ dev, ino uint64 }

// openForWriting returns a test of whether some process has a file under
// root open for writing: a scanner or a download that pauses longer than
// the quiet time is still at work, and its file half written. Linux lists
// every open file under /proc/PID/fd, with its access mode in fdinfo;
// processes of other users are not readable and not counted.
func openForWriting(root string) func(fs.FileInfo) bool {
	prefix := root
	if real, err := filepath.EvalSymlinks(root); err == nil {
		prefix = real // the links in /proc name the resolved path
	}
	open := map[fileKey]bool{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or another user's
		}
		for _, fd := range fds {
			link := filepath.Join(fdDir, fd.Name())
			target, err := os.Readlink(link)
			if err != nil || !strings.HasPrefix(target, prefix+string(filepath.Separator)) {
				continue
			}
			if !writable(filepath.Join("/proc", p.Name(), "fdinfo", fd.Name())) {
				continue
			}
			var st syscall.Stat_t
			if err := syscall.Stat(link, &st); err == nil {
				open[fileKey{uint64(st.Dev), st.Ino}] = true //nolint:unconvert // Dev is not uint64 on every architecture
			}
		}
	}
	return func(info fs.FileInfo) bool {
		st, ok := info.Sys().(*syscall.Stat_t)
		return ok && open[fileKey{uint64(st.Dev), st.Ino}] //nolint:unconvert // as above
	}
}

// writable reports whether the descriptor an fdinfo file describes was
// opened for writing (its flags, in octal, are not O_RDONLY).
func writable(fdinfo string) bool {
	f, err := os.Open(fdinfo) // #nosec G304 -- a path under /proc
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&syscall.O_ACCMODE != syscall.O_RDONLY
		}
	}
	return false
}
