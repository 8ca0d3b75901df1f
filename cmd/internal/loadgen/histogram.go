package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBucketBits sets the precision of the histogram: each power-of-two range
// of nanoseconds is split into 2^subBucketBits linear sub-buckets, which keeps
// the relative error of a reported percentile under 1/2^subBucketBits.
const subBucketBits = 6

const subBuckets = 1 << subBucketBits

// histogramBuckets covers every non-negative int64 nanosecond value (at most
// 63 significant bits).
const histogramBuckets = (63 - subBucketBits + 1) * subBuckets

// Histogram records durations in log-linear buckets (HDR-like), so memory is
// fixed whatever the number of samples. It is not safe for concurrent use:
// give every worker its own and Merge them.
type Histogram struct {
	counts [histogramBuckets]int64
	total  int64
	min    time.Duration
	max    time.Duration
	sum    time.Duration
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{min: math.MaxInt64}
}

// bucketIndex maps a nanosecond value to its bucket.
func bucketIndex(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len64(uint64(v)) - subBucketBits // >= 1
	sub := int(v >> uint(exp-1))
	// v >> (exp-1) lies in [subBuckets, 2*subBuckets); subtract subBuckets to
	// get the linear position inside this power-of-two range.
	return exp*subBuckets + sub - subBuckets
}

// bucketUpper is the largest nanosecond value that maps to bucket i.
func bucketUpper(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	exp := i / subBuckets
	sub := int64(i%subBuckets) + subBuckets
	lower := sub << uint(exp-1)
	return lower + (int64(1) << uint(exp-1)) - 1
}

// Record adds one sample; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketIndex(int64(d))]++
	h.total++
	h.sum += d
	if d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
}

// Merge adds every sample of other into h.
func (h *Histogram) Merge(other *Histogram) {
	if other == nil || other.total == 0 {
		return
	}
	for i, c := range other.counts {
		h.counts[i] += c
	}
	h.total += other.total
	h.sum += other.sum
	if other.min < h.min {
		h.min = other.min
	}
	if other.max > h.max {
		h.max = other.max
	}
}

// Count returns the number of samples recorded.
func (h *Histogram) Count() int64 { return h.total }

// Max returns the largest sample, exactly.
func (h *Histogram) Max() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.max
}

// Mean returns the arithmetic mean of the samples.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}

// Percentile returns the smallest recorded bucket value at or below which at
// least p percent of the samples lie (p in 0..100), clamped to the exact
// minimum and maximum.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if p <= 0 {
		return h.min
	}
	if p >= 100 {
		return h.max
	}
	rank := int64(math.Ceil(p / 100 * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketUpper(i))
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return v
		}
	}
	return h.max
}
