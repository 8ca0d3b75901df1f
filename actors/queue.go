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
// and the label class it requires — and holds no pointer: entries live in
// one slab, the heaps hold slab indexes and the id index is keyed by the
// id's bytes, so a backlog of a million executions is ~130 MB that the
// garbage collector never scans (with a pointer per entry, rebuilding a
// million entries at start spent seconds in the collector).
//
// Order: HIGH before NORMAL before LOW; within a priority, earlier enqueue
// time first, then arrival. Entries are grouped into classes by the set of
// runner labels they require ("" for none: today every entry); a claim is
// served from the classes its runner may take (the match policy decides),
// taking the best head among them. With one class a pop is one heap pop,
// and with a few classes it looks at a few heads: an idle poll stays cheap.
type execQueue struct {
	items   []queueItem // the slab; a free slot has index -1
	free    []int32
	byID    map[idKey]int32
	long    map[string]int32 // ids too long for an idKey (none generated)
	classes map[string]int32
	order   []*queueClass // classes by number
	seq     uint64
	depth   [3]int
	// match decides whether a runner offering the given labels may take an
	// entry requiring the class's labels (matchAllLabels when nil).
	match MatchPolicy
}

// idKey holds an id of up to 43 bytes: its length, then its bytes.
type idKey [44]byte

func keyOf(id string) (k idKey, ok bool) {
	if len(id) >= len(k) {
		return k, false
	}
	k[0] = byte(len(id))
	copy(k[1:], id)
	return k, true
}

func (k *idKey) String() string { return string(k[1 : 1+int(k[0])]) }

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
	enq   messages.Time
	seq   uint64
	key   idKey
	class int32
	index int32 // position in its heap; -1 when the slot is free
	rank  uint8
}

// queueClass holds the entries that require one set of labels, one heap
// per priority rank.
type queueClass struct {
	key    string
	labels []string
	heaps  [3][]int32 // slab indexes, min-heaps by enqueue time then arrival
}

func newExecQueue() *execQueue { return newExecQueueSized(0) }

// newExecQueueSized is an empty queue with room for n entries (a start
// knows the backlog's size: no rehashing or slab copies while it loads).
func newExecQueueSized(n int) *execQueue {
	return &execQueue{items: make([]queueItem, 0, n), byID: make(map[idKey]int32, n), classes: map[string]int32{}}
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
func (q *execQueue) Len() int { return len(q.items) - len(q.free) }

// Depth is the number of queued entries of priority rank r (0 HIGH, 1
// NORMAL, 2 LOW).
func (q *execQueue) Depth(r int) int { return q.depth[r] }

// Has reports whether id is queued.
func (q *execQueue) Has(id string) bool { _, ok := q.lookup(id); return ok }

func (q *execQueue) lookup(id string) (int32, bool) {
	if k, ok := keyOf(id); ok {
		i, found := q.byID[k]
		return i, found
	}
	i, found := q.long[id]
	return i, found
}

func (q *execQueue) idOf(i int32) string {
	it := &q.items[i]
	if it.key[0] == 0xff {
		for id, j := range q.long {
			if j == i {
				return id
			}
		}
	}
	return it.key.String()
}

// pushLoaded adds an entry read from storage at start (no label
// requirement), keyed straight from the id's bytes: no string per entry.
func (q *execQueue) pushLoaded(id []byte, p messages.Priority, enq messages.Time) {
	var k idKey
	if len(id) >= len(k) {
		q.Push(queueEntry{ID: string(id), Priority: p, Enqueued: enq})
		return
	}
	k[0] = byte(len(id))
	copy(k[1:], id)
	if _, dup := q.byID[k]; dup {
		q.Push(queueEntry{ID: string(id), Priority: p, Enqueued: enq})
		return
	}
	q.insert(k, "", queueRank(p), enq, "", nil)
}

// Push adds an entry. An id already queued stays where it is when its
// enqueue time is the same (a repeated announcement), and moves when it
// re-entered the queue later (or with another priority or labels). It
// reports whether the queue changed.
func (q *execQueue) Push(e queueEntry) bool {
	rank := queueRank(e.Priority)
	key, labels := labelKey(e.Labels)
	if i, ok := q.lookup(e.ID); ok {
		it := &q.items[i]
		if it.enq == e.Enqueued && int(it.rank) == rank && q.order[it.class].key == key {
			return false
		}
		q.remove(i)
	}
	k, _ := keyOf(e.ID)
	q.insert(k, e.ID, rank, e.Enqueued, key, labels)
	return true
}

// insert adds a new entry: k is its key, or longID an id too long for one.
func (q *execQueue) insert(k idKey, longID string, rank int, enq messages.Time, key string, labels []string) {
	ci, ok := q.classes[key]
	if !ok {
		ci = int32(len(q.order))
		q.classes[key] = ci
		q.order = append(q.order, &queueClass{key: key, labels: labels})
	}
	q.seq++
	it := queueItem{enq: enq, seq: q.seq, class: ci, rank: uint8(rank)}
	var i int32
	if n := len(q.free); n > 0 {
		i = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		i = int32(len(q.items))
		q.items = append(q.items, queueItem{})
	}
	if k[0] != 0 || longID == "" {
		it.key = k
		q.byID[k] = i
	} else {
		it.key[0] = 0xff
		if q.long == nil {
			q.long = map[string]int32{}
		}
		q.long[longID] = i
	}
	q.items[i] = it
	q.heapPush(&q.order[ci].heaps[rank], i)
	q.depth[rank]++
}

// Remove takes id out of the queue; it reports whether it was there.
func (q *execQueue) Remove(id string) bool {
	i, ok := q.lookup(id)
	if ok {
		q.remove(i)
	}
	return ok
}

func (q *execQueue) remove(i int32) {
	it := &q.items[i]
	q.heapRemove(&q.order[it.class].heaps[it.rank], int(it.index))
	if it.key[0] == 0xff {
		for id, j := range q.long {
			if j == i {
				delete(q.long, id)
				break
			}
		}
	} else {
		delete(q.byID, it.key)
	}
	q.depth[it.rank]--
	*it = queueItem{index: -1}
	q.free = append(q.free, i)
}

// PopFor takes the best entry a runner offering labels may take: the
// highest priority, then the oldest, among the classes the match policy
// allows. ok is false when there is none.
func (q *execQueue) PopFor(offered []string) (id string, ok bool) {
	if q.Len() == 0 {
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
		best := int32(-1)
		for _, c := range q.order {
			h := c.heaps[r]
			if len(h) == 0 || (best >= 0 && !q.before(h[0], best)) || !match(c.labels, offered) {
				continue
			}
			best = h[0]
		}
		if best >= 0 {
			id := q.idOf(best)
			q.remove(best)
			return id, true
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
			if !q.walkOlder(c.heaps[r], 0, limit, fn) {
				return
			}
		}
	}
}

func (q *execQueue) before(a, b int32) bool {
	x, y := &q.items[a], &q.items[b]
	if x.enq != y.enq {
		return x.enq < y.enq
	}
	return x.seq < y.seq
}

func (q *execQueue) heapPush(h *[]int32, i int32) {
	q.items[i].index = int32(len(*h))
	*h = append(*h, i)
	q.up(*h, len(*h)-1)
}

func (q *execQueue) heapRemove(h *[]int32, at int) {
	s := *h
	n := len(s) - 1
	if at != n {
		q.swap(s, at, n)
	}
	*h = s[:n]
	if at != n {
		if !q.down(*h, at) {
			q.up(*h, at)
		}
	}
}

func (q *execQueue) swap(h []int32, i, j int) {
	h[i], h[j] = h[j], h[i]
	q.items[h[i]].index, q.items[h[j]].index = int32(i), int32(j)
}

func (q *execQueue) up(h []int32, j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !q.before(h[j], h[i]) {
			break
		}
		q.swap(h, i, j)
		j = i
	}
}

func (q *execQueue) down(h []int32, i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && q.before(h[r], h[l]) {
			j = r
		}
		if !q.before(h[j], h[i]) {
			break
		}
		q.swap(h, i, j)
		i = j
	}
	return i > i0
}

// walkOlder visits the subtree at i whose entries are enqueued at or
// before limit (a parent is never younger than its children).
func (q *execQueue) walkOlder(h []int32, i int, limit messages.Time, fn func(string) bool) bool {
	if i >= len(h) || q.items[h[i]].enq > limit {
		return true
	}
	if !fn(q.idOf(h[i])) {
		return false
	}
	return q.walkOlder(h, 2*i+1, limit, fn) && q.walkOlder(h, 2*i+2, limit, fn)
}

// queueRank is p's rank in the queue; an invalid priority queues as NORMAL.
func queueRank(p messages.Priority) int {
	if rank := p.Rank(); rank >= 0 {
		return rank
	}
	return 1
}
