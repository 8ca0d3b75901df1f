package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/exekra/orchestrator/cmd/internal/privfile"
	"github.com/exekra/orchestrator/storage"
)

// securePrivateFiles is checked at every start: the data dir, the database
// (which holds the JWT key and every hash) and the self-signed TLS key are
// private to the account running serve: mode 0700/0600 on Unix, on Windows
// an access list for SYSTEM, Administrators and that account
// (cmd/internal/privfile). What was open is tightened and the log says so;
// a --tls-key outside the data dir is the operator's file and is only
// checked. A file that cannot be tightened is a warning, not a failed start.
func securePrivateFiles(log *slog.Logger, dataDir, tlsKey string) {
	own := []string{filepath.Join(dataDir, storage.FileName), filepath.Join(dataDir, selfSignedKey)}
	// The directory is tightened only when it holds nothing but Exekra's
	// files: `--data-dir .` in a project or home directory is warned
	// about, never changed.
	if entries, err := os.ReadDir(dataDir); err == nil && onlyExekraFiles(entries) {
		own = append([]string{dataDir}, own...)
	} else if problem, err := privfile.Check(dataDir); err == nil && problem != "" {
		log.Warn("the data dir is open to other accounts and holds other files too: give Exekra a directory of its own", "path", dataDir, "problem", problem)
	}
	for _, p := range own {
		fixed, err := privfile.Secure(p)
		switch {
		case err != nil:
			log.Warn("a private file is readable by other accounts and could not be restricted", "path", p, "err", err)
		case fixed != "":
			log.Warn("restricted a private file to the account running exekra and administrators", "path", p, "was", fixed)
		}
	}
	if tlsKey == "" {
		return
	}
	if abs, err := filepath.Abs(tlsKey); err == nil {
		if dir, err := filepath.Abs(dataDir); err == nil && filepath.Dir(abs) == dir {
			if _, err := privfile.Secure(abs); err != nil {
				log.Warn("the TLS key is readable by other accounts and could not be restricted", "path", tlsKey, "err", err)
			}
			return
		}
	}
	if problem, err := privfile.Check(tlsKey); err == nil && problem != "" {
		log.Warn("the TLS key is readable by other accounts: restrict it", "path", tlsKey, "problem", problem)
	}
}

// onlyExekraFiles says whether a data dir's entries are all Exekra's: its
// database and what storage, backups and restores name after it, the TLS
// pair, and a service's logs and environment file.
func onlyExekraFiles(entries []os.DirEntry) bool {
	for _, e := range entries {
		name := strings.ToLower(e.Name())
		switch {
		case strings.HasPrefix(name, "exekra"), name == selfSignedCert, name == selfSignedKey, name == "logs",
			strings.HasSuffix(name, ".env"):
		default:
			return false
		}
	}
	return true
}
