/**
 * `npm run bench`: every selected scenario against origin direct, bare @fastify/http-proxy, a
 * minimal undici proxy and Cutover. Each target is its own child process (same process group),
 * so its CPU time per request is its own; targets are interleaved and alternate direction each
 * round, and the tables show medians. Full detail goes to bench/results/latest.json.
 *
 * Scenarios with `load: 'fixed-rate'` run open loop at one rate for the whole bench run: half
 * the saturated req/s of the mirror-off write, measured just before the first of them.
 *
 * Env: BENCH_DURATION BENCH_WARMUP BENCH_REWARM BENCH_CONNECTIONS BENCH_PIPELINING BENCH_ROUNDS
 *      BENCH_SCENARIOS BENCH_TARGETS BENCH_PROFILE BENCH_RATE CUTOVER_KAFKA_BROKERS (see bench/README.md)
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { FIXED_RATE } from './scenarios/fixed-rate.ts'
import { SCENARIOS } from './scenarios/index.ts'
import type { RequestSpec, Scenario, TargetSpec } from './scenarios/types.ts'
import { hostBusyMicros } from './lib/host-load.ts'
import { runLoad, type LoadResult } from './lib/load.ts'
import { runOpenLoop } from './lib/open-loop.ts'
import { BENCH_DIR, BenchProcess, REPO_DIR } from './lib/processes.ts'
import { scenarioTable, summary } from './lib/report.ts'
import type { BenchResult, Comparison, FixedRate, GateResult, RoundRatio, RunRecord, ScenarioResult, TargetSummary } from './lib/results.ts'
import { readSettings, type BenchSettings } from './lib/settings.ts'
import { median, ratio, spread } from './lib/stats.ts'

const RESULTS_DIR = join(BENCH_DIR, 'results')
const PROFILES_DIR = join(RESULTS_DIR, 'profiles')
/** Seconds per run spent outside the load itself (stats round trips, autocannon start/stop). */
const RUN_OVERHEAD_S = 0.15
/** Cores' worth of CPU used outside the bench above which a run counts as noisy. */
const NOISY_CORES = 0.25
/** Brokers for the targets with `kafka: true`; without them those targets are left out. */
const KAFKA_BROKERS = process.env.CUTOVER_KAFKA_BROKERS?.trim() ?? ''
/** Topics of this bench run on that broker (`<prefix>.diffs`, …): nobody else's events mix in. */
const KAFKA_TOPIC_PREFIX = `cutover-bench-${Date.now().toString(36)}`

function log(line: string): void {
  process.stderr.write(line + '\n')
}

function selectScenarios(settings: BenchSettings): Scenario[] {
  if (settings.scenarios.length === 0) return [...SCENARIOS]
  const known = new Map(SCENARIOS.map((s) => [s.name, s]))
  return settings.scenarios.map((name) => {
    const s = known.get(name)
    if (s === undefined) throw new Error(`BENCH_SCENARIOS: unknown scenario '${name}' (known: ${[...known.keys()].join(', ')})`)
    return s
  })
}

function selectTargets(scenario: Scenario, settings: BenchSettings): TargetSpec[] {
  const runnable = scenario.targets.filter((t) => t.kafka !== true || KAFKA_BROKERS !== '')
  if (settings.targets.length === 0) return runnable
  return runnable.filter((t) => settings.targets.includes(t.id) || settings.targets.includes(t.kind))
}

/** The scenario's request, with the target's own path when it has one. */
function requestOf(scenario: Scenario, target: TargetSpec): RequestSpec {
  return target.path === undefined ? scenario.request : { ...scenario.request, path: target.path }
}

/** Starts target processes on first use and keeps them for later scenarios with the same setup. */
class Fleet {
  readonly #settings: BenchSettings
  readonly #byKey = new Map<string, BenchProcess>()
  readonly #names = new Set<string>()
  readonly #served = new Set<BenchProcess>()
  readonly legacy: BenchProcess
  readonly cloud: BenchProcess

  private constructor(settings: BenchSettings, legacy: BenchProcess, cloud: BenchProcess) {
    this.#settings = settings
    this.legacy = legacy
    this.cloud = cloud
  }

  static async start(settings: BenchSettings): Promise<Fleet> {
    const [legacy, cloud] = await Promise.all([
      BenchProcess.start('origin-legacy', 'origin.ts', ['--name', 'legacy'], nodeFlags(settings, 'origin-legacy', 'origin')),
      BenchProcess.start('origin-cloud', 'origin.ts', ['--name', 'cloud'], nodeFlags(settings, 'origin-cloud', 'origin')),
    ])
    return new Fleet(settings, legacy, cloud)
  }

  /** The process has had a measured run (so its JIT and pools are warm). */
  served(proc: BenchProcess): void {
    this.#served.add(proc)
  }

  hasServed(proc: BenchProcess): boolean {
    return this.#served.has(proc)
  }

  get all(): BenchProcess[] {
    return [this.legacy, this.cloud, ...this.#byKey.values()]
  }

  async for(target: TargetSpec): Promise<BenchProcess> {
    if (target.kind === 'origin') return this.legacy
    const kafka = target.kafka === true ? ['--kafka', KAFKA_BROKERS, '--topic-prefix', KAFKA_TOPIC_PREFIX] : []
    const args =
      target.kind === 'cutover'
        ? ['--legacy', this.legacy.url, '--cloud', this.cloud.url, '--routes', JSON.stringify(target.routes ?? []), ...(target.journal === false ? ['--journal', 'off'] : []), ...kafka]
        : ['--upstream', this.legacy.url]
    const key = `${target.kind} ${args.join(' ')}`
    const existing = this.#byKey.get(key)
    if (existing !== undefined) return existing
    let name: string = target.kind
    for (let i = 2; this.#names.has(name); i++) name = `${target.kind}-${i}`
    this.#names.add(name)
    const script = target.kind === 'cutover' ? 'cutover.ts' : target.kind === 'bare' ? 'bare-proxy.ts' : 'undici-proxy.ts'
    const proc = await BenchProcess.start(name, script, args, nodeFlags(this.#settings, name, target.kind, target.id))
    this.#byKey.set(key, proc)
    return proc
  }
}

/** `--cpu-prof` into bench/results/profiles/<process name>/ for the kinds or ids in BENCH_PROFILE. */
function nodeFlags(settings: BenchSettings, name: string, kind: string, id?: string): string[] {
  if (!settings.profile.includes(kind) && (id === undefined || !settings.profile.includes(id))) return []
  const dir = join(PROFILES_DIR, name)
  mkdirSync(dir, { recursive: true })
  return ['--cpu-prof', '--cpu-prof-dir', dir]
}

/** One request through the target before any load: a proxy that cannot reach its origin fails here. */
async function smokeCheck(url: string, request: RequestSpec, what: string): Promise<void> {
  const { method, path, headers, body } = request
  const res = await fetch(url + path, { method, headers: { ...headers }, body })
  const text = await res.text()
  if (!res.ok || res.headers.get('x-origin') === null) {
    throw new Error(`${what}: smoke request answered ${res.status} (x-origin: ${res.headers.get('x-origin')}): ${text.slice(0, 200)}`)
  }
}

/** `rate` null: saturated (autocannon); else open loop at that many req/s, warm-up included. */
function load(url: string, request: RequestSpec, settings: BenchSettings, seconds: number, rate: number | null): Promise<LoadResult> {
  const opts = { url, request, connections: settings.connections, pipelining: settings.pipelining, seconds }
  return rate === null ? runLoad(opts) : runOpenLoop({ ...opts, rate })
}

async function measure(
  request: RequestSpec,
  rate: number | null,
  settings: BenchSettings,
  proc: BenchProcess,
  fleet: Fleet,
  round: number,
  position: number,
): Promise<RunRecord> {
  let warmup: RunRecord['warmup'] = null
  // a process that already had a measured run in this bench run (an earlier scenario) has its JIT
  // and pools warm: the short warm-up will do, which keeps the whole bench within its budget
  const warm = round > 1 || fleet.hasServed(proc)
  const warmSeconds = warm ? settings.rewarm : settings.warmup
  if (warmSeconds > 0) {
    const w = await load(proc.url, request, settings, warmSeconds, rate)
    warmup = { requests: w.requests, non2xx: w.non2xx, errors: w.errors, unanswered: w.unanswered }
  }
  const origins = proc === fleet.legacy ? [fleet.legacy, fleet.cloud] : [proc, fleet.legacy, fleet.cloud]
  const before = await Promise.all(origins.map((p) => p.stats()))
  const hostBefore = hostBusyMicros()
  const loadgenBefore = process.cpuUsage()
  const result = await load(proc.url, request, settings, settings.duration, rate)
  fleet.served(proc)
  const loadgen = process.cpuUsage(loadgenBefore)
  const hostAfter = hostBusyMicros()
  const after = await Promise.all(origins.map((p) => p.stats()))
  const delta = (i: number): { cpu: number; requests: number; counters: Record<string, number> } => ({
    cpu: (after[i]?.cpuMicros ?? 0) - (before[i]?.cpuMicros ?? 0),
    requests: (after[i]?.requests ?? 0) - (before[i]?.requests ?? 0),
    counters: counterDelta(before[i]?.counters ?? {}, after[i]?.counters ?? {}),
  })
  const self = delta(0)
  const legacy = proc === fleet.legacy ? self : delta(1)
  const cloud = proc === fleet.legacy ? delta(1) : delta(2)
  const upstreamRequests = legacy.requests + cloud.requests
  const ours = self.cpu + (proc === fleet.legacy ? cloud.cpu : legacy.cpu + cloud.cpu) + loadgen.user + loadgen.system
  const otherCores = hostBefore === null || hostAfter === null ? null : Math.max(0, hostAfter - hostBefore - ours) / (result.seconds * 1e6)

  const problems: string[] = []
  if (result.non2xx > 0) problems.push(`non2xx=${result.non2xx} ${JSON.stringify(result.statusCodes)}`)
  if (result.errors > 0) problems.push(`errors=${result.errors}`)
  if (result.timeouts > 0) problems.push(`timeouts=${result.timeouts}`)
  if (result.requests === 0) problems.push('no responses')
  if (result.unanswered > 0) problems.push(`unanswered=${result.unanswered} (fell behind the fixed rate)`)
  if (warmup !== null && (warmup.non2xx > 0 || warmup.errors > 0 || warmup.unanswered > 0)) {
    problems.push(`warm-up non2xx=${warmup.non2xx} errors=${warmup.errors}${warmup.unanswered > 0 ? ` unanswered=${warmup.unanswered}` : ''}`)
  }
  return {
    round,
    position,
    load: result,
    cpuMicros: self.cpu,
    cpuPerReq: self.cpu / result.requests,
    originCpuPerReq: (legacy.cpu + cloud.cpu) / upstreamRequests,
    loadgenCpuPerReq: (loadgen.user + loadgen.system) / result.requests,
    upstream: { legacy: legacy.requests, cloud: cloud.requests },
    counters: self.counters,
    otherCores,
    noisy: otherCores !== null && otherCores > NOISY_CORES,
    warmup,
    valid: problems.length === 0,
    problems,
  }
}

function counterDelta(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(after)) out[k] = v - (before[k] ?? 0)
  return out
}

function summarise(target: TargetSpec, path: string, proc: BenchProcess, runs: readonly RunRecord[]): TargetSummary {
  // Runs during which something outside the bench took a real share of the 2 cores measure that
  // something as much as the target: leave them out of the medians when a clean run exists.
  const clean = runs.filter((r) => !r.noisy)
  const used = clean.length > 0 ? clean : runs
  const pick = (f: (r: RunRecord) => number): number => median(used.map(f))
  return {
    id: target.id,
    kind: target.kind,
    process: proc.name,
    pid: proc.pid,
    path,
    runs,
    median: {
      rps: pick((r) => r.load.rps),
      p50Ms: pick((r) => r.load.p50Ms),
      p99Ms: pick((r) => r.load.p99Ms),
      p99FromDueMs: pick((r) => r.load.p99FromDueMs),
      cpuPerReq: pick((r) => r.cpuPerReq),
      originCpuPerReq: pick((r) => r.originCpuPerReq),
      loadgenCpuPerReq: pick((r) => r.loadgenCpuPerReq),
      cloudShare: pick((r) => r.upstream.cloud / (r.upstream.legacy + r.upstream.cloud)),
      otherCores: pick((r) => r.otherCores ?? Number.NaN),
    },
    rpsSpread: spread(used.map((r) => r.load.rps)),
    cpuSpread: spread(used.map((r) => r.cpuPerReq)),
    cleanRuns: clean.length,
    usedRounds: used.map((r) => r.round),
    totals: {
      responses: runs.reduce((n, r) => n + r.load.requests, 0),
      legacy: runs.reduce((n, r) => n + r.upstream.legacy, 0),
      cloud: runs.reduce((n, r) => n + r.upstream.cloud, 0),
      counters: runs.reduce<Record<string, number>>((sum, r) => {
        for (const [k, v] of Object.entries(r.counters)) sum[k] = (sum[k] ?? 0) + v
        return sum
      }, {}),
    },
    valid: runs.every((r) => r.valid),
  }
}

function compare(targets: readonly TargetSummary[], subject: string, baseline: string): Comparison | null {
  const s = targets.find((t) => t.id === subject)
  const b = targets.find((t) => t.id === baseline)
  if (s === undefined || b === undefined) return null
  // The ratio is taken within each round, where the two runs are seconds apart (back to back for
  // bare and Cutover), so drift in what else the box is doing mostly cancels; then the median
  // over rounds in which neither run was noisy (over all rounds if there is none).
  const rounds: RoundRatio[] = []
  for (const sr of s.runs) {
    const br = b.runs.find((r) => r.round === sr.round)
    if (br === undefined) continue
    rounds.push({
      round: sr.round,
      rps: ratio(sr.load.rps, br.load.rps),
      p50: ratio(sr.load.p50Ms, br.load.p50Ms),
      p99: ratio(sr.load.p99Ms, br.load.p99Ms),
      cpuPerReq: ratio(sr.cpuPerReq, br.cpuPerReq),
      noisy: sr.noisy || br.noisy,
    })
  }
  const clean = rounds.filter((r) => !r.noisy)
  const used = clean.length > 0 ? clean : rounds
  const pick = (f: (r: RoundRatio) => number): number => median(used.map(f))
  return {
    subject,
    baseline,
    rounds,
    usedRounds: used.map((r) => r.round),
    cleanRounds: clean.length,
    rps: pick((r) => r.rps),
    p50: pick((r) => r.p50),
    p99: pick((r) => r.p99),
    cpuPerReq: pick((r) => r.cpuPerReq),
    valid: s.valid && b.valid,
  }
}

function judge(scenario: Scenario, targets: readonly TargetSummary[], comparisons: readonly Comparison[]): GateResult[] {
  const out: GateResult[] = []
  for (const gate of scenario.gates ?? []) {
    if (gate.kind === 'count') {
      const t = targets.find((x) => x.id === gate.target)
      if (t === undefined) continue // not selected (BENCH_TARGETS, or a Kafka target without brokers)
      // a Prometheus counter appears once it first moves: absent is 0 when its group reported at all
      const group = gate.counter.slice(0, gate.counter.indexOf('.') + 1)
      const reported = Object.keys(t.totals.counters).some((k) => k.startsWith(group))
      const value = reported ? (t.totals.counters[gate.counter] ?? 0) : Number.NaN
      const problems = [...(t.valid ? [] : ['invalid run']), ...(reported ? [] : [`${gate.target} reported no ${group}* counter`])]
      out.push({ ...gate, scenario: scenario.name, value, range: null, clean: null, pass: problems.length === 0 && value <= gate.max, problems })
      continue
    }
    const c = comparisons.find((x) => x.subject === gate.subject && x.baseline === gate.baseline)
    if (c === undefined) continue
    const value = c[gate.metric]
    // a bound the gate leaves out is not checked; NaN passes none
    const within = (gate.min === undefined || value >= gate.min) && (gate.max === undefined || value <= gate.max) && Number.isFinite(value)
    const problems = c.valid ? [] : ['invalid run']
    const per = c.rounds.filter((r) => c.usedRounds.includes(r.round)).map((r) => r[gate.metric]).filter((v) => Number.isFinite(v))
    const range: [number, number] | null = per.length < 2 ? null : [Math.min(...per), Math.max(...per)]
    const clean = { rounds: c.cleanRounds, of: c.rounds.length }
    out.push({ ...gate, scenario: scenario.name, value, range, clean, pass: within && problems.length === 0, problems })
  }
  return out
}

/**
 * The fixed-rate scenarios' rate: `FIXED_RATE.fraction` of a saturated run of the mirror-off
 * write (after a warm-up), or BENCH_RATE. Measured once, before the first of them.
 */
async function findFixedRate(settings: BenchSettings, fleet: Fleet, earlier: readonly ScenarioResult[]): Promise<FixedRate> {
  if (settings.rate !== null) {
    log(`fixed rate: ${settings.rate} req/s (BENCH_RATE)`)
    return { rate: settings.rate, source: 'BENCH_RATE', saturatedRps: null, measuredBy: null }
  }
  // the same target and request already ran saturated in this bench run: its median it is
  const { scenario, target } = FIXED_RATE.measuredBy
  const measured = earlier.find((s) => s.name === scenario)?.targets.find((t) => t.id === target)
  if (measured !== undefined && measured.valid && measured.median.rps > 0) {
    const rate = Math.max(1, Math.round(measured.median.rps * FIXED_RATE.fraction))
    log(`fixed rate: ${rate} req/s = ${FIXED_RATE.fraction} × ${Math.round(measured.median.rps)} req/s, the median of ${scenario}/${target} (saturated)`)
    return { rate, source: 'measured', saturatedRps: measured.median.rps, measuredBy: `${scenario}/${target}` }
  }
  const proc = await fleet.for(FIXED_RATE.target)
  await smokeCheck(proc.url, FIXED_RATE.request, 'fixed rate')
  const warmSeconds = fleet.hasServed(proc) ? settings.rewarm : settings.warmup
  if (warmSeconds > 0) await load(proc.url, FIXED_RATE.request, settings, warmSeconds, null)
  const saturated = await load(proc.url, FIXED_RATE.request, settings, settings.duration, null)
  fleet.served(proc)
  if (saturated.non2xx > 0 || saturated.errors > 0 || saturated.timeouts > 0 || saturated.requests === 0) {
    throw new Error(`fixed rate: the saturated mirror-off run failed (non2xx ${saturated.non2xx}, errors ${saturated.errors}, timeouts ${saturated.timeouts})`)
  }
  const rate = Math.max(1, Math.round(saturated.rps * FIXED_RATE.fraction))
  log(
    `fixed rate: ${rate} req/s = ${FIXED_RATE.fraction} × ${Math.round(saturated.rps)} req/s, the saturated ${FIXED_RATE.request.method} ` +
      `${FIXED_RATE.request.path} through cutover mirror off (p99 ${saturated.p99Ms.toFixed(2)} ms)`,
  )
  return { rate, source: 'measured', saturatedRps: saturated.rps, measuredBy: `a ${settings.duration} s saturated run`, saturated }
}

async function runScenario(scenario: Scenario, settings: BenchSettings, fleet: Fleet, rate: number | null): Promise<ScenarioResult> {
  const targets = selectTargets(scenario, settings)
  const procs = new Map<string, BenchProcess>()
  for (const t of targets) {
    const proc = await fleet.for(t)
    await smokeCheck(proc.url, requestOf(scenario, t), `${scenario.name}/${t.id}`)
    procs.set(t.id, proc)
  }
  const runs = new Map<string, RunRecord[]>(targets.map((t) => [t.id, []]))
  const idWidth = Math.max(8, ...targets.map((t) => t.id.length))
  for (let round = 1; round <= settings.rounds; round++) {
    // A B C D, then D C B A: no target always runs first after a pause or last in a hot box
    const order = round % 2 === 1 ? targets : [...targets].reverse()
    for (let position = 0; position < order.length; position++) {
      const t = order[position] as TargetSpec
      const rec = await measure(requestOf(scenario, t), rate, settings, procs.get(t.id) as BenchProcess, fleet, round, position)
      runs.get(t.id)?.push(rec)
      log(
        `[${scenario.name} ${round}/${settings.rounds}] ${t.id.padEnd(idWidth)} ${Math.round(rec.load.rps).toString().padStart(6)} req/s  ` +
          `p50 ${rec.load.p50Ms.toFixed(2)} ms  p99 ${rec.load.p99Ms.toFixed(2)} ms  CPU ${rec.cpuPerReq.toFixed(1)} µs/req` +
          (rec.otherCores === null ? '' : `  other load ${rec.otherCores.toFixed(2)} cores${rec.noisy ? ' (noisy)' : ''}`) +
          (rec.valid ? '' : `  INVALID: ${rec.problems.join('; ')}`),
      )
    }
  }
  const summaries = targets.map((t) => summarise(t, requestOf(scenario, t).path, procs.get(t.id) as BenchProcess, runs.get(t.id) ?? []))
  const comparisons = scenario.compare.map(([s, b]) => compare(summaries, s, b)).filter((c): c is Comparison => c !== null)
  return {
    name: scenario.name,
    title: scenario.title,
    request: scenario.request,
    showSplit: scenario.showSplit === true,
    showUpstream: scenario.showUpstream === true,
    rate,
    targets: summaries,
    comparisons,
    gates: judge(scenario, summaries, comparisons),
  }
}

function git(args: readonly string[]): string | null {
  try {
    // trimEnd only: `git status --porcelain` lines start with a status column that may be a space
    return execFileSync('git', args, { cwd: REPO_DIR, encoding: 'utf8' }).trimEnd()
  } catch {
    return null
  }
}

/** What was measured: HEAD plus any uncommitted change to the gateway's code at start. */
function codeUnderTest(): { commit: string | null; uncommitted: string[] } {
  const status = git(['status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json']) ?? ''
  return {
    commit: git(['rev-parse', '--short', 'HEAD']),
    uncommitted: status
      .split('\n')
      .map((l) => l.slice(3))
      .filter((l) => l !== ''),
  }
}

async function main(): Promise<number> {
  const settings = readSettings()
  const scenarios = selectScenarios(settings)
  const runsPlanned = scenarios.reduce((n, s) => n + selectTargets(s, settings).length, 0) * settings.rounds
  // the long warm-up once per process (targets with the same setup share one), the short one before every other run
  const processes = new Set(scenarios.flatMap((s) => selectTargets(s, settings).map((t) => JSON.stringify([t.kind, t.kind === 'cutover' ? t.routes : null, t.kafka === true]))))
  const warmups = processes.size * (settings.warmup - settings.rewarm) + runsPlanned * settings.rewarm
  const firstFixed = scenarios.findIndex((s) => s.load === 'fixed-rate')
  const calibrated = settings.rate !== null || scenarios.slice(0, Math.max(0, firstFixed)).some((s) => s.name === FIXED_RATE.measuredBy.scenario)
  const fixedRateRuns = firstFixed >= 0 && !calibrated ? settings.warmup + settings.duration : 0
  const estimate = runsPlanned * (settings.duration + RUN_OVERHEAD_S) + warmups + fixedRateRuns + 8
  log(
    `bench: ${scenarios.map((s) => s.name).join(', ')} — ${runsPlanned} runs of ${settings.duration} s (+ warm-ups), ` +
      `${settings.connections} connections: about ${Math.ceil(estimate)} s`,
  )

  const code = codeUnderTest()
  if (code.uncommitted.length > 0) log(`note: measuring HEAD ${code.commit} plus uncommitted changes in ${code.uncommitted.join(', ')}`)
  const kafkaTargets = scenarios.flatMap((s) => s.targets.filter((t) => t.kafka === true).map((t) => `${s.name}/${t.id}`))
  if (kafkaTargets.length > 0) {
    log(
      KAFKA_BROKERS === ''
        ? `note: CUTOVER_KAFKA_BROKERS is not set: ${kafkaTargets.join(', ')} left out (diff events go to the spool only)`
        : `kafka: ${kafkaTargets.join(', ')} publish to ${KAFKA_BROKERS}, topics ${KAFKA_TOPIC_PREFIX}.*`,
    )
  }
  const startedAt = new Date()
  const t0 = performance.now()
  const fleet = await Fleet.start(settings)
  const stopAll = async (): Promise<void> => {
    await Promise.all(fleet.all.map((p) => p.stop()))
  }
  process.once('exit', () => fleet.all.forEach((p) => p.kill()))
  process.once('SIGINT', () => {
    void stopAll().finally(() => process.exit(130))
  })

  const results: ScenarioResult[] = []
  let fixedRate: FixedRate | null = null
  try {
    for (const scenario of scenarios) {
      if (scenario.load === 'fixed-rate' && fixedRate === null) fixedRate = await findFixedRate(settings, fleet, results)
      const r = await runScenario(scenario, settings, fleet, scenario.load === 'fixed-rate' ? (fixedRate?.rate ?? null) : null)
      results.push(r)
      log('\n' + scenarioTable(r, settings.rounds) + '\n')
    }
  } finally {
    await stopAll()
  }

  const result: BenchResult = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    wallSeconds: (performance.now() - t0) / 1000,
    machine: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadavg: loadavg() },
    commit: code.commit,
    uncommitted: code.uncommitted,
    settings,
    fixedRate,
    scenarios: results,
  }
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, 'latest.json')
  const json = JSON.stringify(result, null, 2)
  writeFileSync(file, json + '\n')
  process.stdout.write(json + '\n\n')
  process.stdout.write(summary(result) + '\n\n')
  log(`wrote ${file}`)
  if (settings.profile.length > 0) {
    // one file per thread; the main thread's is the one whose name has thread id 0 (…<pid>.0.…)
    const profiles = readdirSync(PROFILES_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
    log(`main-thread CPU profiles in ${PROFILES_DIR}: ${profiles.join(', ')}\nsummarise: npx tsx bench/profile-summary.ts FILE`)
  }
  const invalid = results.some((s) => s.targets.some((t) => !t.valid))
  return invalid ? 2 : 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    process.exitCode = 1
  },
)
