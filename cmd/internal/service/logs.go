package service

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// maxLogFile is the size at which a service's log file is rotated: the
// current file becomes <name>.log.1 (replacing the previous one) and a new
// one starts, so at most twice this is kept.
const maxLogFile = 20 << 20

// rotatingFile is an append-only log file that rotates at maxBytes.
type rotatingFile struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	f        *os.File
	size     int64
}

// openLogFile opens (creating its directory) path for appending.
func openLogFile(path string, maxBytes int64) (*rotatingFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("service: log file: %w", err)
	}
	r := &rotatingFile{path: path, maxBytes: maxBytes}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("service: log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("service: log file: %w", err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past its limit.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxBytes {
		r.f.Close()
		r.f = nil
		// A failed rename keeps appending to the same file rather than
		// losing lines.
		_ = os.Rename(r.path, r.path+".1")
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// Close closes the file.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Level is an Event Log entry's type.
type Level int

// The Event Log's entry types.
const (
	LevelInfo Level = iota
	LevelWarning
	LevelError
)

// lineLevel is the Event Log type of one slog line, text or JSON:
// ERROR lines are errors, WARN lines warnings, everything else
// information.
func lineLevel(line string) Level {
	switch {
	case strings.Contains(line, "level=ERROR"), strings.Contains(line, `"level":"ERROR`):
		return LevelError
	case strings.Contains(line, "level=WARN"), strings.Contains(line, `"level":"WARN`):
		return LevelWarning
	}
	return LevelInfo
}

// lineSplitter hands every complete line written to it to emit (without
// its newline); a partial line waits for the rest.
type lineSplitter struct {
	mu      sync.Mutex
	partial []byte
	emit    func(line string)
}

// maxLine bounds a line kept waiting for its newline.
const maxLine = 32 << 10

func (s *lineSplitter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(s.partial[:i], "\r"); len(line) > 0 {
			s.emit(string(line))
		}
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > maxLine {
		s.emit(string(s.partial))
		s.partial = nil
	}
	return len(p), nil
}
