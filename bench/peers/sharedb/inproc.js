// ShareDB beside bench/fanout.py: one document, N subscribed replicas in process, one op at a time
// (latency) and `window` ops in flight (throughput), against a plain event-loop dispatch baseline.
//
//   node inproc.js [--observers 1000] [--updates 1000] [--window 16] [--rounds 3] [--quick]
//
// The workload mirrors bench/fanout.py: the reporter sets one key (`k`) to a new integer per update;
// every replica's change handler (ShareDB's doc 'op' event) calls the same arrival counter, which
// stamps the time the N-th replica of an update lands. ShareDB's in-process connections serialise
// every message (its StreamSocket stringifies and parses), as SyncScope's in-memory links do. Each
// replica is its own Connection (ShareDB holds one copy of a document per connection): the shape of
// `bench.fanout --runtimes N`. Prints per-round lines to stderr and the result as one JSON line.
'use strict';

const ShareDB = require('sharedb');

const WARMUP = 20;

function parseArgs(argv) {
  const args = {observers: 1000, updates: 1000, window: 16, rounds: 3, quick: false};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a.startsWith('--') && i + 1 < argv.length && a.slice(2) in args) args[a.slice(2)] = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (args.quick) { args.updates = Math.min(args.updates, 100); args.rounds = 1; }
  for (const k of ['observers', 'updates', 'window', 'rounds']) {
    if (!Number.isInteger(args[k]) || args[k] < 1) throw new Error(`--${k} must be a whole number of at least 1`);
  }
  return args;
}

function percentile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 1) return s[0];
  const rank = (s.length - 1) * q / 100;
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

const median = (v) => percentile(v, 50);
const round3 = (x) => Math.round(x * 1000) / 1000;

class Arrivals {
  constructor(replicas) { this.replicas = replicas; this.reset(0, 0); }
  reset(base, updates) {
    this.base = base; this.counts = new Array(updates).fill(0); this.done = new Array(updates).fill(0);
    this.completed = 0; this.waiter = null;
  }
  arrived(value) {
    const i = value - this.base;
    const c = ++this.counts[i];
    if (c === this.replicas) {
      this.done[i] = performance.now();
      this.completed++;
      const w = this.waiter;
      if (w) { this.waiter = null; w(); }
    }
  }
}

async function drive(send, arrivals, base, updates, window) {
  arrivals.reset(base, updates);
  const sentAt = new Array(updates).fill(0);
  let sent = 0;
  let deadline = null;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (arrivals.completed < updates) {
    while (sent < updates && sent - arrivals.completed < window) {
      sentAt[sent] = performance.now();
      send(base + sent);
      sent++;
    }
    await new Promise((resolve, reject) => {
      arrivals.waiter = resolve;
      deadline = deadline || setTimeout(() => reject(new Error(`phase stalled: ${arrivals.completed}/${updates} updates complete`)),
        (60 + updates * 0.5) * 1000);
    });
  }
  clearTimeout(deadline);
  const cpu = process.cpuUsage(cpu0);
  const end = Math.max(...arrivals.done);
  const lat = arrivals.done.map((d, i) => (d - sentAt[i]) / 1000);
  return {latencies: lat, elapsed: (end - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6, replicas: arrivals.replicas};
}

function summary(p) {
  const ms = p.latencies.map((s) => s * 1000);
  return {
    median_ms: round3(median(ms)), p99_ms: round3(percentile(ms, 99)),
    replica_updates_per_s: Math.round(p.replicas * p.latencies.length / p.elapsed),
    cpu_us_per_replica_update: round3(1e6 * p.cpu / (p.replicas * p.latencies.length)),
  };
}

const promisify = (fn) => new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));

async function build(n) {
  const backend = new ShareDB();
  const reporterConn = backend.connect();
  const doc = reporterConn.get('bench', 'fanout');
  // One op per update, as SyncScope sends one update per edit: without this ShareDB composes the ops
  // queued behind the one in flight into one, and a replica never sees the values in between.
  doc.preventCompose = true;
  await promisify((cb) => doc.create({k: 0}, cb));
  const replicas = [];
  for (let j = 0; j < n; j++) {
    const r = backend.connect().get('bench', 'fanout');
    replicas.push(r);
  }
  await Promise.all(replicas.map((r) => promisify((cb) => r.subscribe(cb))));
  return {backend, doc, replicas};
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const {doc, replicas} = await build(args.observers);
  const n = replicas.length;
  process.stderr.write(`built ${n} ShareDB replicas in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
  const arrivals = new Arrivals(n);
  for (const r of replicas) r.on('op', (op) => arrivals.arrived(op[0].oi));

  const sendEngine = (value) => {
    doc.submitOp([{p: ['k'], od: doc.data.k, oi: value}]);
  };
  const replicaState = new Map();
  const baselineCallback = (j, value) => { replicaState.set(j, value); arrivals.arrived(value); };
  const sendBaseline = (value) => { for (let j = 0; j < n; j++) setImmediate(baselineCallback, j, value); };

  let base = 1;
  const results = {base_lat: [], base_tput: [], lat: [], tput: []};
  const phase = async (key, send, win) => {
    const p = await drive(send, arrivals, base, args.updates, win);
    base += args.updates;
    results[key].push(p);
    return summary(p);
  };
  await drive(sendEngine, arrivals, base, WARMUP, 1);
  base += WARMUP;
  for (let r = 0; r < args.rounds; r++) {
    const b = await phase('base_lat', sendBaseline, 1);
    const e = await phase('lat', sendEngine, 1);
    await phase('base_tput', sendBaseline, args.window);
    const et = await phase('tput', sendEngine, args.window);
    process.stderr.write(`round ${r + 1}/${args.rounds}: sharedb median ${e.median_ms} ms p99 ${e.p99_ms} ms, `
      + `${et.replica_updates_per_s} ru/s, ${et.cpu_us_per_replica_update} cpu-us/ru | baseline median ${b.median_ms} ms\n`);
  }
  const converged = replicas.every((r) => r.version === doc.version && r.data.k === doc.data.k);
  const med = (key, stat) => round3(median(results[key].map((p) => summary(p)[stat])));
  const block = (lat, tput) => ({
    median_ms: med(lat, 'median_ms'), p99_ms: med(lat, 'p99_ms'),
    replica_updates_per_s: Math.round(med(tput, 'replica_updates_per_s')),
    cpu_us_per_replica_update: med(tput, 'cpu_us_per_replica_update'),
  });
  const engine = block('lat', 'tput');
  const baseline = block('base_lat', 'base_tput');
  const out = {
    bench: 'sharedb-inproc', replicas: n, ...engine, baseline,
    ratios: {
      median_vs_baseline: round3(engine.median_ms / baseline.median_ms),
      cpu_vs_baseline: round3(engine.cpu_us_per_replica_update / baseline.cpu_us_per_replica_update),
    },
    config: {observers: args.observers, connections: n, updates: args.updates, window: args.window, rounds: args.rounds},
    converged, sharedb: require('sharedb/package.json').version, node: process.version,
    wall_s: round3((performance.now() - t0) / 1000),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(converged ? 0 : 1);
}

main().catch((err) => { process.stderr.write(`${err.stack || err}\n`); process.exit(2); });
