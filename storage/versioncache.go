package storage

import (
	"sync"

	"github.com/exekra/orchestrator/messages"
)

// versionCache keeps the versions GetVersion read, for the poll that hands
// out work: every execution handed over reads its version's graph, and a
// version changes only through a catalog write (a draft saved, a workflow
// deleted), which moves catalogGen and so empties the cache. The
// generation is read before the version, so an entry is never older than
// its generation says.
type versionCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]*messages.Version
}

// versionCacheMax bounds the cache (it starts over when full).
const versionCacheMax = 1024

// get returns the cached version (nil when not cached) and the generation
// to put a freshly read one under.
func (c *versionCache) get(s *Store, id string) (*messages.Version, uint64) {
	gen := s.catalogGen.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		c.m, c.gen = nil, gen
		return nil, gen
	}
	return c.m[id], gen
}

// put caches v (read after gen was loaded).
func (c *versionCache) put(gen uint64, v *messages.Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return // a catalog write came in between: v may be stale
	}
	if c.m == nil || len(c.m) >= versionCacheMax {
		c.m = map[string]*messages.Version{}
	}
	c.m[v.ID] = v
}

// cachedVersion is GetVersion through the cache. The version returned is
// shared: callers must not change it.
func (s *Store) cachedVersion(id string) (*messages.Version, error) {
	v, gen := s.versions.get(s, id)
	if v != nil {
		return v, nil
	}
	v, err := s.readVersion(id)
	if err != nil || v == nil {
		return nil, err
	}
	s.versions.put(gen, v)
	return v, nil
}
