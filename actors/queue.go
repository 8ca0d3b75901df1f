package actors

import (
	"slices"
	"strings"

	"github.com/exekra/orchestrator/messages"
)

// execQueue is the queue of QUEUED executions: a pure data type (no actor,
// no clock, no locking) owned by the dispatcher, so its rules can be
// changed and tested on their own.
//
// An entry is compact — id, priority rank, enqueue time, an arrival number
// and the label class it requires — about 150 bytes with its index entry,
// so a backlog of a million executions costs what its entries cost.
//
// Order: HIGH before NORMAL before LOW; within a priority, earlier enqueue
// time first, then arrival. Entries are grouped into classes by the set of
// runner labels they require ("" for none: today every entry); a claim is
// served from the classes its runner may take (the match policy decides),
// taking the best head among them. With one class a pop is one heap pop,
// and with a few classes it looks at a few heads: an idle poll stays cheap.
type execQueue struct {
	byID    map[string]*queueItem
	classes map[string]*queueClass
	order   []*queueClass // classes in creation order (stable iteration)
	seq     uint64
	depth   [3]int
	// match decides whether a runner offering the given labels may take an
	// entry requiring the class's labels (matchAllLabels when nil).
	match MatchPolicy
}

// MatchPolicy decides whether a runner offering labels may take work that
// requires required (both sorted, without duplicates).
type MatchPolicy func(required, offered []string) bool

// matchAllLabels is the default policy: every required label is offered.
func matchAllLabels(required, offered []string) bool {
	for _, l := range required {
		if _, ok := slices.BinarySearch(offered, l); !ok {
			return false
		}
	}
	return true
}

// queueEntry is an execution that enters the queue.
type queueEntry struct {
	ID       string
	Priority messages.Priority
	Enqueued messages.Time
	// Labels the runner must have (any order; nil for none).
	Labels []string
}

// queueItem is an entry inside the queue.
type queueItem struct {
	id    string
	enq   messages.Time
	seq   uint64
	class *queueClass
	index int32
	rank  uint8
}

// queueClass holds the entries that require one set of labels, one heap
// per priority rank.
type queueClass struct {
	key    string
	labels []string
	heaps  [3]itemHeap
}

// itemHeap is a binary min-heap ordered by enqueue time, then arrival.
type itemHeap []*queueItem

func newExecQueue() *execQueue {
	return &execQueue{byID: map[string]*queueItem{}, classes: map[string]*queueClass{}}
}

// labelKey is the canonical form of a label set: sorted, deduplicated,
// joined with commas.
func labelKey(labels []string) (string, []string) {
	if len(labels) == 0 {
		return "", nil
	}
	s := slices.Clone(labels)
	slices.Sort(s)
	s = slices.Compact(s)
	return strings.Join(s, ","), s
}

// Len is the number of queued entries.
func (q *execQueue) Len() int { return len(q.byID) }

// Depth is the number of queued entries of priority rank r (0 HIGH, 1
// NORMAL, 2 LOW).
func (q *execQueue) Depth(r int) int { return q.depth[r] }

// Has reports whether id is queued.
func (q *execQueue) Has(id string) bool { _, ok := q.byID[id]; return ok }

// Push adds an entry. An id already queued stays where it is when its
// enqueue time is the same (a repeated announcement), and moves when it
// re-entered the queue later (or with another priority or labels). It
// reports whether the queue changed.
func (q *execQueue) Push(e queueEntry) bool {
	rank := queueRank(e.Priority)
	key, labels := labelKey(e.Labels)
	if it, ok := q.byID[e.ID]; ok {
		if it.enq == e.Enqueued && int(it.rank) == rank && it.class.key == key {
			return false
		}
		q.remove(it)
	}
	c := q.classes[key]
	if c == nil {
		c = &queueClass{key: key, labels: labels}
		q.classes[key] = c
		q.order = append(q.order, c)
	}
	q.seq++
	it := &queueItem{id: e.ID, enq: e.Enqueued, seq: q.seq, class: c, rank: uint8(rank)}
	c.heaps[rank].push(it)
	q.byID[e.ID] = it
	q.depth[rank]++
	return true
}

// Remove takes id out of the queue; it reports whether it was there.
func (q *execQueue) Remove(id string) bool {
	it, ok := q.byID[id]
	if ok {
		q.remove(it)
	}
	return ok
}

func (q *execQueue) remove(it *queueItem) {
	it.class.heaps[it.rank].removeAt(int(it.index))
	delete(q.byID, it.id)
	q.depth[it.rank]--
}

// PopFor takes the best entry a runner offering labels may take: the
// highest priority, then the oldest, among the classes the match policy
// allows. ok is false when there is none.
func (q *execQueue) PopFor(offered []string) (id string, ok bool) {
	if len(q.byID) == 0 {
		return "", false
	}
	match := q.match
	if match == nil {
		match = matchAllLabels
	}
	for r := 0; r < 3; r++ {
		if q.depth[r] == 0 {
			continue
		}
		var best *queueItem
		for _, c := range q.order {
			h := c.heaps[r]
			if len(h) == 0 || (best != nil && !before(h[0], best)) || !match(c.labels, offered) {
				continue
			}
			best = h[0]
		}
		if best != nil {
			q.remove(best)
			return best.id, true
		}
	}
	return "", false
}

// EnqueuedBefore calls fn with the ids enqueued at or before limit, each
// heap walked only as deep as its entries are that old, until fn returns
// false.
func (q *execQueue) EnqueuedBefore(limit messages.Time, fn func(id string) bool) {
	for _, c := range q.order {
		for r := range c.heaps {
			if !c.heaps[r].walkOlder(0, limit, fn) {
				return
			}
		}
	}
}

func before(a, b *queueItem) bool {
	if a.enq != b.enq {
		return a.enq < b.enq
	}
	return a.seq < b.seq
}

func (h *itemHeap) push(it *queueItem) {
	it.index = int32(len(*h))
	*h = append(*h, it)
	h.up(len(*h) - 1)
}

func (h *itemHeap) removeAt(i int) {
	s := *h
	n := len(s) - 1
	if i != n {
		s.swap(i, n)
	}
	s[n].index = -1
	s[n] = nil
	*h = s[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h itemHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = int32(i), int32(j)
}

func (h itemHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !before(h[j], h[i]) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h itemHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && before(h[r], h[l]) {
			j = r
		}
		if !before(h[j], h[i]) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// walkOlder visits the subtree at i whose entries are enqueued at or
// before limit (a parent is never younger than its children).
func (h itemHeap) walkOlder(i int, limit messages.Time, fn func(string) bool) bool {
	if i >= len(h) || h[i].enq > limit {
		return true
	}
	if !fn(h[i].id) {
		return false
	}
	return h.walkOlder(2*i+1, limit, fn) && h.walkOlder(2*i+2, limit, fn)
}

// queueRank is p's rank in the queue; an invalid priority queues as NORMAL.
func queueRank(p messages.Priority) int {
	if rank := p.Rank(); rank >= 0 {
		return rank
	}
	return 1
}
