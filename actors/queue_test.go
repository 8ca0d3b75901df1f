package actors

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/exekra/orchestrator/messages"
)

// refQueue is the reference the queue is checked against: a plain list,
// searched in full on every pop.
type refQueue struct {
	items []refItem
	seq   uint64
}

type refItem struct {
	id     string
	rank   int
	enq    messages.Time
	seq    uint64
	labels []string
}

func (r *refQueue) push(e queueEntry) {
	_, labels := labelKey(e.Labels)
	rank := queueRank(e.Priority)
	for i, it := range r.items {
		if it.id == e.ID {
			if it.enq == e.Enqueued && it.rank == rank && slices.Equal(it.labels, labels) {
				return
			}
			r.items = slices.Delete(r.items, i, i+1)
			break
		}
	}
	r.seq++
	r.items = append(r.items, refItem{id: e.ID, rank: rank, enq: e.Enqueued, seq: r.seq, labels: labels})
}

func (r *refQueue) remove(id string) bool {
	for i, it := range r.items {
		if it.id == id {
			r.items = slices.Delete(r.items, i, i+1)
			return true
		}
	}
	return false
}

func (r *refQueue) pop(offered []string) (string, bool) {
	best := -1
	for i, it := range r.items {
		if !matchAllLabels(it.labels, offered) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := r.items[best]
		if it.rank < b.rank || it.rank == b.rank && (it.enq < b.enq || it.enq == b.enq && it.seq < b.seq) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	id := r.items[best].id
	r.items = slices.Delete(r.items, best, best+1)
	return id, true
}

// TestQueueMatchesReference runs random operations on the queue and on the
// reference: every pop must agree, every id leaves exactly once, and the
// depths and expiry walk agree.
func TestQueueMatchesReference(t *testing.T) {
	prios := []messages.Priority{messages.PriorityHigh, messages.PriorityNormal, messages.PriorityLow, ""}
	labelSets := [][]string{nil, nil, nil, {"win"}, {"gpu", "win"}, {"win", "gpu", "win"}, {"linux"}}
	offers := [][]string{nil, {"win"}, {"gpu", "win"}, {"linux", "win"}, {"gpu", "linux", "win"}}
	for seed := int64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			q, ref := newExecQueue(), &refQueue{}
			var ids []string
			left := map[string]int{} // times each id left the queue
			pushed := map[string]bool{}
			for op := 0; op < 3000; op++ {
				switch k := rng.Intn(10); {
				case k < 4: // push a new id or re-push an old one
					var id string
					if len(ids) > 0 && rng.Intn(4) == 0 {
						id = ids[rng.Intn(len(ids))]
					} else {
						id = fmt.Sprintf("e%05d", op)
						ids = append(ids, id)
					}
					e := queueEntry{ID: id, Priority: prios[rng.Intn(len(prios))],
						Enqueued: messages.Time(rng.Intn(50)), Labels: labelSets[rng.Intn(len(labelSets))]}
					q.Push(e)
					ref.push(e)
					pushed[id] = true
				case k < 8:
					offer := offers[rng.Intn(len(offers))]
					got, ok := q.PopFor(offer)
					want, wok := ref.pop(offer)
					if got != want || ok != wok {
						t.Fatalf("op %d: pop(%v) = %q %v, reference %q %v", op, offer, got, ok, want, wok)
					}
					if ok {
						left[got]++
					}
				default:
					if len(ids) == 0 {
						continue
					}
					id := ids[rng.Intn(len(ids))]
					if got, want := q.Remove(id), ref.remove(id); got != want {
						t.Fatalf("op %d: remove %s = %v, reference %v", op, id, got, want)
					} else if got {
						left[id]++
					}
				}
				if q.Len() != len(ref.items) {
					t.Fatalf("op %d: len %d, reference %d", op, q.Len(), len(ref.items))
				}
			}
			var depth [3]int
			for _, it := range ref.items {
				depth[it.rank]++
			}
			for r := range depth {
				if q.Depth(r) != depth[r] {
					t.Fatalf("depth[%d] = %d, reference %d", r, q.Depth(r), depth[r])
				}
			}
			var old, refOld []string
			q.EnqueuedBefore(20, func(id string) bool { old = append(old, id); return true })
			for _, it := range ref.items {
				if it.enq <= 20 {
					refOld = append(refOld, it.id)
				}
			}
			slices.Sort(old)
			slices.Sort(refOld)
			if !slices.Equal(old, refOld) {
				t.Fatalf("enqueued before 20: %v, reference %v", old, refOld)
			}
			// Drain: every id pushed leaves exactly once in all.
			for {
				id, ok := q.PopFor([]string{"gpu", "linux", "win"})
				if !ok {
					break
				}
				left[id]++
			}
			for id := range pushed {
				if left[id] < 1 {
					t.Fatalf("%s never left the queue", id)
				}
			}
			if q.Len() != 0 {
				t.Fatalf("%d left after draining", q.Len())
			}
		})
	}
}

// TestQueuePushIsIdempotent: a repeated announcement keeps the entry's
// place; a later re-entry moves it behind.
func TestQueuePushIsIdempotent(t *testing.T) {
	q := newExecQueue()
	q.Push(queueEntry{ID: "a", Priority: messages.PriorityNormal, Enqueued: 1})
	q.Push(queueEntry{ID: "b", Priority: messages.PriorityNormal, Enqueued: 2})
	if q.Push(queueEntry{ID: "a", Priority: messages.PriorityNormal, Enqueued: 1}) {
		t.Fatal("a repeated announcement changed the queue")
	}
	if id, _ := q.PopFor(nil); id != "a" {
		t.Fatalf("head %s, want a", id)
	}
	q.Push(queueEntry{ID: "a", Priority: messages.PriorityNormal, Enqueued: 1})
	q.Push(queueEntry{ID: "a", Priority: messages.PriorityNormal, Enqueued: 3})
	if id, _ := q.PopFor(nil); id != "b" {
		t.Fatalf("head %s, want b (a re-entered later)", id)
	}
	if q.Len() != 1 || q.Depth(1) != 1 {
		t.Fatalf("len %d depth %d", q.Len(), q.Depth(1))
	}
}

func BenchmarkQueuePushPop(b *testing.B) {
	q := newExecQueue()
	for i := 0; i < 100000; i++ {
		q.Push(queueEntry{ID: fmt.Sprint(i), Priority: messages.PriorityNormal, Enqueued: messages.Time(i)})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q.Push(queueEntry{ID: "x", Priority: messages.PriorityNormal, Enqueued: messages.Time(100000 + i)})
		q.PopFor(nil)
	}
}

// Entries loaded at start (from the queue index's bytes) queue like pushed
// ones, and a repeated one is not queued twice.
func TestQueuePushLoaded(t *testing.T) {
	q := newExecQueueSized(4)
	q.pushLoaded([]byte("b"), messages.PriorityNormal, 2)
	q.pushLoaded([]byte("a"), messages.PriorityHigh, 5)
	q.pushLoaded([]byte("c"), messages.PriorityNormal, 1)
	q.pushLoaded([]byte("c"), messages.PriorityNormal, 1)
	long := strings.Repeat("x", 60)
	q.pushLoaded([]byte(long), messages.PriorityLow, 0)
	if q.Len() != 4 || !q.Has(long) || !q.Has("c") {
		t.Fatalf("len %d", q.Len())
	}
	var got []string
	for {
		id, ok := q.PopFor(nil)
		if !ok {
			break
		}
		got = append(got, id)
	}
	if want := []string{"a", "c", "b", long}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
