package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"go.etcd.io/bbolt"

	"github.com/exekra/orchestrator/messages"
)

// Events layout.
//
//   - bucketEvents: sequence (uint64 big-endian) → stored event (see
//     appendStoredEvent): the durable domain events, oldest first.
//   - metaEventSeqReserved (bucketMeta): the sequence numbers handed out so
//     far are all below it. The writer reserves numbers in blocks of
//     eventSeqBlock, so a restart (even after kill -9) never reuses a
//     number that a live-only event already carried.
//
// Numbers are assigned by the writer goroutine while it applies a batch:
// durable events (messages.Effects.Events without Live) are put in the
// transaction of the change that caused them; live events take a number
// from the same counter and are not stored. Once the transaction commits,
// the batch's events go to the sink (the events actor) in sequence order,
// before any writer of the batch hears its answer. A failed or rolled-back
// transaction hands out nothing: its numbers are assigned again.
var (
	bucketEvents         = []byte("events")
	metaEventSeqReserved = []byte("event_seq_reserved")
)

func init() {
	registerBuckets(bucketEvents)
	registerRecordCheck(bucketEvents, func(_ *bbolt.Tx, k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: event key of %d bytes", errBadRecord, len(k))
		}
		_, err := decodeStoredEvent(readU64(k), v)
		return err
	})
}

// EventsRetained is how many durable events are kept at least; older ones
// are pruned by the writer (in the transactions it commits anyway) once
// eventsPruneSlack more have piled up.
const EventsRetained = 10_000

const (
	eventsPruneSlack = 1_000
	eventsPruneMax   = 4_096 // deleted per transaction at most
	eventSeqBlock    = 100_000
)

// eventLog is the writer's state of the event sequence. Every field but
// sink, floor and last belongs to the writer goroutine (and to Open).
type eventLog struct {
	next     uint64 // the next number to hand out
	reserved uint64 // numbers below it are reserved on disk
	stored   int    // durable events in bucketEvents

	// per attempt of a batch: rolled back when the transaction is
	pending     []messages.Event
	startNext   uint64
	storedDelta int

	sink atomic.Pointer[func([]messages.Event)]
	// floor is the outbox hook: events above it are never pruned. The
	// outbound-webhook outbox (one cursor per subscription) sets it to
	// the lowest cursor; MaxUint64 (no subscription) prunes by count only.
	floor atomic.Uint64
	last  atomic.Uint64 // the last number published
}

// loadEventsTx reads the sequence state at Open.
func (s *Store) loadEventsTx(tx *bbolt.Tx) error {
	ev := &s.events
	ev.floor.Store(math.MaxUint64)
	b := tx.Bucket(bucketEvents)
	ev.stored = b.Stats().KeyN
	last := uint64(0)
	c := b.Cursor()
	for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
		if len(k) == 8 { // a damaged key (quarantined by the sweep) is no sequence
			last = readU64(k)
			break
		}
	}
	ev.reserved = readU64(tx.Bucket(bucketMeta).Get(metaEventSeqReserved))
	ev.next = max(last+1, ev.reserved, 1)
	ev.last.Store(ev.next - 1)
	return nil
}

// SetEventSink sets the function that receives committed events, in
// sequence order, from the writer goroutine. It must not block (the events
// actor's mailbox: a Send). nil stops the fan-out.
func (s *Store) SetEventSink(fn func([]messages.Event)) {
	if fn == nil {
		s.events.sink.Store(nil)
		return
	}
	s.events.sink.Store(&fn)
}

// SetEventsFloor is the outbox's hook on retention: durable events with a
// sequence above floor are kept whatever their number (math.MaxUint64: no
// floor).
func (s *Store) SetEventsFloor(floor uint64) { s.events.floor.Store(floor) }

// LastEventSeq is the number of the last event handed to the sink.
func (s *Store) LastEventSeq() uint64 { return s.events.last.Load() }

// appendEventsTx numbers evs inside tx (a write function of the writer):
// durable ones are stored, all are published once the transaction commits.
func (s *Store) appendEventsTx(tx *bbolt.Tx, evs []messages.Event) error {
	ev := &s.events
	for _, e := range evs {
		e.Seq = ev.next
		ev.next++
		if !e.Live {
			if tx == nil {
				return errors.New("storage: durable event outside a transaction")
			}
			b := tx.Bucket(bucketEvents)
			b.FillPercent = appendFillPercent
			if err := b.Put(u64(e.Seq), appendStoredEvent(nil, &e)); err != nil {
				return err
			}
			ev.storedDelta++
		}
		ev.pending = append(ev.pending, e)
	}
	return nil
}

// applyEffectsTx writes a change's audit entry and events inside tx.
func (s *Store) applyEffectsTx(tx *bbolt.Tx, fx messages.Effects) error {
	if err := appendAuditTx(tx, fx.Audit); err != nil {
		return err
	}
	return s.appendEventsTx(tx, fx.Events)
}

// AppendEvents durably appends events that no record change carries (a
// license that passed into its grace period by the clock, say).
func (s *Store) AppendEvents(evs []messages.Event) error {
	return s.update(func(tx *bbolt.Tx) error { return s.appendEventsTx(tx, evs) })
}

// PublishLive numbers live events and hands them to the sink after the
// writes queued before them, without a transaction of their own (unless a
// new block of numbers must be reserved). It returns without waiting.
func (s *Store) PublishLive(evs []messages.Event) {
	for i := range evs {
		evs[i].Live = true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	s.writes <- &writeReq{live: true, fn: func(tx *bbolt.Tx) error { return s.appendEventsTx(tx, evs) },
		cb: func(error) {}}
}

// eventsBegin starts an attempt at a batch.
func (s *Store) eventsBegin() {
	s.resetTxCounters() // the transitions' counter sums (transitions.go)
	ev := &s.events
	ev.startNext = ev.next
	ev.pending = ev.pending[:0]
	ev.storedDelta = 0
}

// eventsRollback forgets an attempt whose transaction did not commit.
func (s *Store) eventsRollback() {
	ev := &s.events
	ev.next = ev.startNext
	ev.pending = ev.pending[:0]
	ev.storedDelta = 0
}

// eventsNeedTx reports whether the attempt's numbers pass the reservation
// (so a transaction must record a new one).
func (s *Store) eventsNeedTx() bool { return s.events.next > s.events.reserved }

// eventsFinishTx ends a batch's transaction: it reserves a new block of
// numbers when needed and prunes the oldest events beyond the retained
// count (and at or below the outbox floor).
func (s *Store) eventsFinishTx(tx *bbolt.Tx) error {
	if err := s.flushTxCountersTx(tx); err != nil { // transitions.go
		return err
	}
	ev := &s.events
	if ev.next > ev.reserved {
		if err := tx.Bucket(bucketMeta).Put(metaEventSeqReserved, u64(ev.next+eventSeqBlock)); err != nil {
			return err
		}
	}
	over := ev.stored + ev.storedDelta - EventsRetained
	if over <= eventsPruneSlack {
		return nil
	}
	over = min(over, eventsPruneMax)
	floor := ev.floor.Load()
	var keys [][]byte
	c := tx.Bucket(bucketEvents).Cursor()
	for k, _ := c.First(); k != nil && len(keys) < over && readU64(k) <= floor; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	b := tx.Bucket(bucketEvents)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	ev.storedDelta -= len(keys)
	return nil
}

// eventsCommitted publishes a committed attempt's events.
func (s *Store) eventsCommitted() {
	ev := &s.events
	if ev.next > ev.reserved {
		ev.reserved = ev.next + eventSeqBlock
	}
	ev.stored += ev.storedDelta
	ev.storedDelta = 0
	if len(ev.pending) == 0 {
		return
	}
	out := make([]messages.Event, len(ev.pending))
	copy(out, ev.pending)
	ev.pending = ev.pending[:0]
	ev.last.Store(out[len(out)-1].Seq)
	if fn := ev.sink.Load(); fn != nil {
		(*fn)(out)
	}
}

// ReadEvents returns up to limit durable events with a sequence above
// after, oldest first (resume and the outbox read the log with it).
func (s *Store) ReadEvents(after uint64, limit int) ([]messages.Event, error) {
	var out []messages.Event
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				skipBadTx(tx, bucketEvents, k, fmt.Errorf("%w: event key of %d bytes", errBadRecord, len(k)))
				continue
			}
			e, err := decodeStoredEvent(readU64(k), v)
			if err != nil {
				if skipBadTx(tx, bucketEvents, k, err) {
					continue
				}
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// CountEvents is how many durable events are stored.
func (s *Store) CountEvents() (n int, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketEvents).Stats().KeyN
		return nil
	})
	return n, err
}

// appendStoredEvent encodes e (its Seq is the key): a version byte, the
// time (8 bytes), the type and the subject (each a uvarint length and its
// bytes), in version 2 the outbound types (a uvarint count, then each as a
// uvarint length and its bytes), then the JSON payload. Events without
// outbound types are written in version 1.
func appendStoredEvent(b []byte, e *messages.Event) []byte {
	if b == nil {
		b = make([]byte, 0, 1+8+2+len(e.Type)+2+len(e.Subject)+len(e.Data)+24*len(e.Outbound))
	}
	version := byte(1)
	if len(e.Outbound) > 0 {
		version = 2
	}
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time))
	b = binary.AppendUvarint(b, uint64(len(e.Type)))
	b = append(b, e.Type...)
	b = binary.AppendUvarint(b, uint64(len(e.Subject)))
	b = append(b, e.Subject...)
	if version == 2 {
		b = binary.AppendUvarint(b, uint64(len(e.Outbound)))
		for _, o := range e.Outbound {
			b = binary.AppendUvarint(b, uint64(len(o)))
			b = append(b, o...)
		}
	}
	return append(b, e.Data...)
}

// ReadOutboundEvents reads the outbox's events: it scans the durable events
// with a sequence above after, oldest first, and returns those whose
// outbound types match accepts (the payload of the others is not copied),
// stopping after limit of them or scan events. last is the sequence of the
// last event scanned (after when none); more reports that it stopped before
// the end of the log.
func (s *Store) ReadOutboundEvents(after uint64, limit, scan int, match func(outbound []string) bool) (evs []messages.Event, last uint64, more bool, err error) {
	last = after
	err = s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		n := 0
		for k, v := c.Seek(u64(after + 1)); k != nil; k, v = c.Next() {
			if n >= scan || len(evs) >= limit {
				more = true
				return nil
			}
			if len(k) != 8 {
				skipBadTx(tx, bucketEvents, k, fmt.Errorf("%w: event key of %d bytes", errBadRecord, len(k)))
				continue
			}
			n++
			seq := readU64(k)
			if len(v) > 0 && v[0] == 1 { // version 1: no outbound types
				last = seq
				continue
			}
			e, data, err := decodeStoredEventHead(seq, v)
			if err != nil {
				if skipBadTx(tx, bucketEvents, k, err) {
					last = seq
					continue
				}
				return err
			}
			last = seq
			if len(e.Outbound) == 0 || !match(e.Outbound) {
				continue
			}
			e.Data = append([]byte(nil), data...)
			evs = append(evs, e)
		}
		return nil
	})
	return evs, last, more, err
}

// decodeStoredEvent decodes a stored event, copying out of bbolt's memory.
func decodeStoredEvent(seq uint64, v []byte) (messages.Event, error) {
	e, data, err := decodeStoredEventHead(seq, v)
	if err != nil {
		return e, err
	}
	e.Data = append([]byte(nil), data...)
	return e, nil
}

// decodeStoredEventHead decodes a stored event but its payload, which it
// answers as a slice of v (bbolt's memory: copy it before the transaction
// ends).
func decodeStoredEventHead(seq uint64, v []byte) (messages.Event, []byte, error) {
	if len(v) < 9 || (v[0] != 1 && v[0] != 2) {
		return messages.Event{}, nil, errBadEvent(seq)
	}
	e := messages.Event{Seq: seq, Time: messages.Time(binary.BigEndian.Uint64(v[1:9]))}
	rest := v[9:]
	str := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	var ok bool
	if e.Type, ok = str(); !ok {
		return messages.Event{}, nil, errBadEvent(seq)
	}
	if e.Subject, ok = str(); !ok {
		return messages.Event{}, nil, errBadEvent(seq)
	}
	if v[0] == 2 {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > 64 {
			return messages.Event{}, nil, errBadEvent(seq)
		}
		rest = rest[w:]
		for i := uint64(0); i < n; i++ {
			o, ok := str()
			if !ok {
				return messages.Event{}, nil, errBadEvent(seq)
			}
			e.Outbound = append(e.Outbound, o)
		}
	}
	return e, rest, nil
}

// errBadEvent is the error of a damaged event.
func errBadEvent(seq uint64) error { return fmt.Errorf("storage: event %d: %w", seq, errBadRecord) }
