// Package loadgen is the load generator behind `exekra loadtest`.
//
// It drives an Exekra Orchestrator server with one of a few scenarios (idle
// runners polling, heartbeats, execution creation, webhook bursts, the runner
// lifecycle, thousands of long-polling runners) and reports throughput,
// latency percentiles, error counts by status and correctness checks (no
// execution assigned twice, none lost, statistics that agree with the lists).
//
// Every scenario also runs a baseline: a bare fasthttp server started
// in-process on 127.0.0.1 whose handler answers a constant small JSON body,
// driven by the same client code with the same concurrency. The ratio
// scenario_rps / baseline_rps is the figure to compare between machines,
// because absolute numbers on a shared box mean little.
//
// By default loadgen manages its own server: it generates a license key pair,
// issues a license, starts `exekra serve` on a free loopback port with a
// temporary data directory, activates and bootstraps it, and kills it at the
// end. With --url it targets a server that is already running instead.
//
// All traffic goes to 127.0.0.1 (or the --url given); every load loop is
// bounded by a request count and a deadline.
package loadgen
