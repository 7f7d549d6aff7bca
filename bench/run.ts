/**
 * `npm run bench`: every selected scenario against origin direct, bare @fastify/http-proxy, a
 * minimal undici proxy and Cutover. Each target is its own child process (same process group),
 * so its CPU time per request is its own; targets are interleaved and alternate direction each
 * round, and the tables show medians. Full detail goes to bench/results/latest.json.
 *
 * Env: BENCH_DURATION BENCH_WARMUP BENCH_REWARM BENCH_CONNECTIONS BENCH_PIPELINING BENCH_ROUNDS
 *      BENCH_SCENARIOS BENCH_TARGETS BENCH_PROFILE (see bench/README.md)
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { SCENARIOS } from './scenarios/index.ts'
import type { Scenario, TargetSpec } from './scenarios/types.ts'
import { hostBusyMicros } from './lib/host-load.ts'
import { runLoad } from './lib/load.ts'
import { BENCH_DIR, BenchProcess, REPO_DIR } from './lib/processes.ts'
import { scenarioTable, summary } from './lib/report.ts'
import type { BenchResult, Comparison, GateResult, RoundRatio, RunRecord, ScenarioResult, TargetSummary } from './lib/results.ts'
import { readSettings, type BenchSettings } from './lib/settings.ts'
import { median, ratio, spread } from './lib/stats.ts'

const RESULTS_DIR = join(BENCH_DIR, 'results')
const PROFILES_DIR = join(RESULTS_DIR, 'profiles')
/** Seconds per run spent outside the load itself (stats round trips, autocannon start/stop). */
const RUN_OVERHEAD_S = 0.15
/** Cores' worth of CPU used outside the bench above which a run counts as noisy. */
const NOISY_CORES = 0.25

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
  if (settings.targets.length === 0) return [...scenario.targets]
  return scenario.targets.filter((t) => settings.targets.includes(t.id) || settings.targets.includes(t.kind))
}

/** Starts target processes on first use and keeps them for later scenarios with the same setup. */
class Fleet {
  readonly #settings: BenchSettings
  readonly #byKey = new Map<string, BenchProcess>()
  readonly #names = new Set<string>()
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

  get all(): BenchProcess[] {
    return [this.legacy, this.cloud, ...this.#byKey.values()]
  }

  async for(target: TargetSpec): Promise<BenchProcess> {
    if (target.kind === 'origin') return this.legacy
    const args =
      target.kind === 'cutover'
        ? ['--legacy', this.legacy.url, '--cloud', this.cloud.url, '--routes', JSON.stringify(target.routes ?? []), ...(target.journal === false ? ['--journal', 'off'] : [])]
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
async function smokeCheck(url: string, scenario: Scenario, id: string): Promise<void> {
  const { method, path, headers, body } = scenario.request
  const res = await fetch(url + path, { method, headers: { ...headers }, body })
  const text = await res.text()
  if (!res.ok || res.headers.get('x-origin') === null) {
    throw new Error(`${scenario.name}/${id}: smoke request answered ${res.status} (x-origin: ${res.headers.get('x-origin')}): ${text.slice(0, 200)}`)
  }
}

async function measure(scenario: Scenario, settings: BenchSettings, proc: BenchProcess, fleet: Fleet, round: number, position: number): Promise<RunRecord> {
  const load = { url: proc.url, request: scenario.request, connections: settings.connections, pipelining: settings.pipelining }
  let warmup: RunRecord['warmup'] = null
  const warmSeconds = round === 1 ? settings.warmup : settings.rewarm
  if (warmSeconds > 0) {
    const w = await runLoad({ ...load, seconds: warmSeconds })
    warmup = { requests: w.requests, non2xx: w.non2xx, errors: w.errors }
  }
  const origins = proc === fleet.legacy ? [fleet.legacy, fleet.cloud] : [proc, fleet.legacy, fleet.cloud]
  const before = await Promise.all(origins.map((p) => p.stats()))
  const hostBefore = hostBusyMicros()
  const loadgenBefore = process.cpuUsage()
  const result = await runLoad({ ...load, seconds: settings.duration })
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
  if (warmup !== null && (warmup.non2xx > 0 || warmup.errors > 0)) problems.push(`warm-up non2xx=${warmup.non2xx} errors=${warmup.errors}`)
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

function summarise(target: TargetSpec, proc: BenchProcess, runs: readonly RunRecord[]): TargetSummary {
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
    runs,
    median: {
      rps: pick((r) => r.load.rps),
      p50Ms: pick((r) => r.load.p50Ms),
      p99Ms: pick((r) => r.load.p99Ms),
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

function judge(scenario: Scenario, comparisons: readonly Comparison[]): GateResult | null {
  const gate = scenario.gate
  if (gate === undefined) return null
  const c = comparisons.find((x) => x.subject === gate.subject && x.baseline === gate.baseline)
  if (c === undefined) return null
  const failures: string[] = []
  if (!c.valid) failures.push('invalid run')
  // a bound the gate leaves out is not checked
  if (gate.minRps !== undefined && !(c.rps >= gate.minRps)) failures.push(`req/s ${c.rps.toFixed(2)}× < ${gate.minRps}×`)
  if (gate.maxCpu !== undefined && !(c.cpuPerReq <= gate.maxCpu)) failures.push(`CPU/req ${c.cpuPerReq.toFixed(2)}× > ${gate.maxCpu}×`)
  if (gate.maxP99 !== undefined && !(c.p99 <= gate.maxP99)) failures.push(`p99 ${c.p99.toFixed(2)}× > ${gate.maxP99}×`)
  return { ...gate, pass: failures.length === 0, failures }
}

async function runScenario(scenario: Scenario, settings: BenchSettings, fleet: Fleet): Promise<ScenarioResult> {
  const targets = selectTargets(scenario, settings)
  const procs = new Map<string, BenchProcess>()
  for (const t of targets) {
    const proc = await fleet.for(t)
    await smokeCheck(proc.url, scenario, t.id)
    procs.set(t.id, proc)
  }
  const runs = new Map<string, RunRecord[]>(targets.map((t) => [t.id, []]))
  const idWidth = Math.max(8, ...targets.map((t) => t.id.length))
  for (let round = 1; round <= settings.rounds; round++) {
    // A B C D, then D C B A: no target always runs first after a pause or last in a hot box
    const order = round % 2 === 1 ? targets : [...targets].reverse()
    for (let position = 0; position < order.length; position++) {
      const t = order[position] as TargetSpec
      const rec = await measure(scenario, settings, procs.get(t.id) as BenchProcess, fleet, round, position)
      runs.get(t.id)?.push(rec)
      log(
        `[${scenario.name} ${round}/${settings.rounds}] ${t.id.padEnd(idWidth)} ${Math.round(rec.load.rps).toString().padStart(6)} req/s  ` +
          `p50 ${rec.load.p50Ms.toFixed(2)} ms  p99 ${rec.load.p99Ms.toFixed(2)} ms  CPU ${rec.cpuPerReq.toFixed(1)} µs/req` +
          (rec.otherCores === null ? '' : `  other load ${rec.otherCores.toFixed(2)} cores${rec.noisy ? ' (noisy)' : ''}`) +
          (rec.valid ? '' : `  INVALID: ${rec.problems.join('; ')}`),
      )
    }
  }
  const summaries = targets.map((t) => summarise(t, procs.get(t.id) as BenchProcess, runs.get(t.id) ?? []))
  const comparisons = scenario.compare.map(([s, b]) => compare(summaries, s, b)).filter((c): c is Comparison => c !== null)
  return {
    name: scenario.name,
    title: scenario.title,
    request: scenario.request,
    showSplit: scenario.showSplit === true,
    showUpstream: scenario.showUpstream === true,
    targets: summaries,
    comparisons,
    gate: judge(scenario, comparisons),
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
  const warmups = (runsPlanned / settings.rounds) * (settings.warmup + (settings.rounds - 1) * settings.rewarm)
  const estimate = runsPlanned * (settings.duration + RUN_OVERHEAD_S) + warmups + 8
  log(
    `bench: ${scenarios.map((s) => s.name).join(', ')} — ${runsPlanned} runs of ${settings.duration} s (+ warm-ups), ` +
      `${settings.connections} connections: about ${Math.ceil(estimate)} s`,
  )

  const code = codeUnderTest()
  if (code.uncommitted.length > 0) log(`note: measuring HEAD ${code.commit} plus uncommitted changes in ${code.uncommitted.join(', ')}`)
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
  try {
    for (const scenario of scenarios) {
      const r = await runScenario(scenario, settings, fleet)
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
