/** Plain-text tables for the terminal; the JSON file has everything else. */
import type { RatioMetric } from '../scenarios/types.ts'
import type { BenchResult, Comparison, GateResult, ScenarioResult, TargetSummary } from './results.ts'

const LABELS: Readonly<Record<string, string>> = {
  origin: 'origin direct',
  bare: 'bare http-proxy',
  undici: 'undici minimal',
  cutover: 'cutover',
  'mirror-off': 'cutover mirror off',
  'mirror-on': 'cutover mirror writes',
  'mirror-nojournal': 'cutover mirror, no journal',
  uncached: 'cutover uncached',
  cached: 'cutover cached',
  'split-mirror': 'cutover 50/50 mirror writes',
  'fast-secondary': 'cutover fast secondary',
  'slow-secondary': 'cutover slow secondary',
  matching: 'cutover all matching',
  mismatch: 'cutover all mismatch (spool)',
  'mismatch-kafka': 'cutover all mismatch (Kafka)',
}

const METRIC_LABELS: Readonly<Record<RatioMetric, string>> = { rps: 'req/s', p99: 'p99', cpuPerReq: 'CPU/req' }

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—'
}

function grouped(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—'
}

function times(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : '—'
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
}

function status(t: TargetSummary): string {
  if (t.valid) return 'ok'
  const problems = new Set(t.runs.flatMap((r) => r.problems))
  return `INVALID (${[...problems].join('; ')})`
}

/** `[0.91–1.12]`: the lowest and highest per-round ratio. */
function range(values: readonly number[]): string {
  const v = values.filter((x) => Number.isFinite(x))
  if (v.length < 2) return ''
  return `[${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}]`
}

function comparisonLine(c: Comparison): string {
  const name = `${LABELS[c.subject] ?? c.subject} ÷ ${LABELS[c.baseline] ?? c.baseline}`
  const flag = c.valid ? '' : '   (from an INVALID run)'
  const used = c.rounds.filter((r) => c.usedRounds.includes(r.round))
  const cell = (label: string, v: number, per: readonly number[]): string => `${label} ${times(v).padStart(6)} ${range(per).padEnd(11)}`
  return (
    `  ${name.padEnd(28)} ${cell('req/s', c.rps, used.map((r) => r.rps))}  ${cell('p99', c.p99, used.map((r) => r.p99))}  ` +
    `${cell('CPU/req', c.cpuPerReq, used.map((r) => r.cpuPerReq))}  p50 ${times(c.p50)}  ` +
    `${c.cleanRounds > 0 ? `${c.cleanRounds}/${c.rounds.length} clean rounds` : `no clean round: all ${c.rounds.length}`}${flag}`
  )
}

/**
 * `  gate mirrored POST CPU/req (saturated): cutover mirror writes ÷ cutover mirror off CPU/req 2.43× ≤ 1.50× — FAIL`
 * The figure always shows, passed or not.
 */
function gateLine(g: GateResult): string {
  const rule =
    g.kind === 'count'
      ? `${LABELS[g.target] ?? g.target} ${g.counter} ${grouped(g.value)} ≤ ${grouped(g.max)}`
      : `${LABELS[g.subject] ?? g.subject} ÷ ${LABELS[g.baseline] ?? g.baseline} ${METRIC_LABELS[g.metric]} ${times(g.value)}` +
        (g.min === undefined ? '' : ` ≥ ${g.min.toFixed(2)}×`) +
        (g.max === undefined ? '' : ` ≤ ${g.max.toFixed(2)}×`)
  return `  gate ${g.label}: ${rule} — ${g.pass ? 'PASS' : 'FAIL'}${g.problems.length > 0 ? ` (${g.problems.join('; ')})` : ''}`
}

/** How settled a ratio gate's verdict is: the per-round range (straddling the bound: not settled) and clean rounds. */
function gateBasis(g: GateResult): string {
  if (g.kind === 'count' || g.clean === null) return ''
  const bound = g.min ?? g.max
  const straddles = g.range !== null && bound !== undefined && g.range[0] <= bound && g.range[1] >= bound
  const range = g.range === null ? '' : `rounds ${g.range[0].toFixed(2)}–${g.range[1].toFixed(2)}×${straddles ? ' (straddles the bound)' : ''}, `
  return `  [${range}${g.clean.rounds > 0 ? `${g.clean.rounds}/${g.clean.of} clean rounds` : `no clean round of ${g.clean.of}`}]`
}

/**
 * `  cutover mirror writes  60,123 responses → legacy 60,123, cloud 60,120 (99.99 %) · mirror match 60,120, …`
 * over all the target's measured runs. A counter group (mirror, cache) shows when any of it moved.
 */
function upstreamLine(t: TargetSummary, width: number): string {
  const { responses, legacy, cloud, counters } = t.totals
  const share = legacy > 0 ? ` (${fixed((cloud / legacy) * 100, 2)} % of legacy)` : ''
  // a handful (a cache's fills): say which runs they fell in
  const perRun = legacy + cloud < 10 * t.runs.length ? ` (per run: ${t.runs.map((r) => r.upstream.legacy + r.upstream.cloud).join(', ')})` : ''
  const groups = new Map<string, [string, number][]>()
  for (const [key, v] of Object.entries(counters).sort(([a], [b]) => a.localeCompare(b))) {
    const dot = key.indexOf('.')
    const group = key.slice(0, dot)
    groups.set(group, [...(groups.get(group) ?? []), [key.slice(dot + 1), v]])
  }
  const moved = [...groups].filter(([, values]) => values.some(([, v]) => v !== 0))
  return (
    `  ${(LABELS[t.id] ?? t.id).padEnd(width)}  ${grouped(responses)} responses → legacy ${grouped(legacy)}, cloud ${grouped(cloud)}${share}${perRun}` +
    moved.map(([group, values]) => ` · ${group} ${values.map(([name, v]) => `${name} ${grouped(v)}`).join(', ')}`).join('')
  )
}

function upstreamLines(s: ScenarioResult): string[] {
  const width = Math.max(...s.targets.map((t) => (LABELS[t.id] ?? t.id).length))
  return ['  upstream, summed over all measured runs (origins\' own counts; Cutover\'s own counters):', ...s.targets.map((t) => upstreamLine(t, width))]
}

export function scenarioTable(s: ScenarioResult, rounds: number): string {
  const fixedRate = s.rate !== null
  const header = ['target', 'req/s', '±rounds', 'p50 ms', 'p99 ms', ...(fixedRate ? ['p99 from due'] : []), 'CPU µs/req', ...(s.showSplit ? ['cloud %'] : []), 'clean', 'other load', 'status']
  const rows = s.targets.map((t) => [
    LABELS[t.id] ?? t.id,
    grouped(t.median.rps),
    `${fixed(t.rpsSpread * 100, 0)}%`,
    fixed(t.median.p50Ms, 2),
    fixed(t.median.p99Ms, 2),
    ...(fixedRate ? [fixed(t.median.p99FromDueMs, 2)] : []),
    fixed(t.median.cpuPerReq, 1),
    ...(s.showSplit ? [fixed(t.median.cloudShare * 100, 1)] : []),
    `${t.cleanRuns}/${t.runs.length}`,
    `${fixed(t.median.otherCores, 2)} cores`,
    status(t),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === r.length - 1 ? 0 : (r[i] ?? '').length))))
  const paths = [...new Set([s.request.path, ...s.targets.map((t) => t.path)])]
  const lines = [
    `== ${s.name}: ${s.title}`,
    `   ${s.request.method} ${paths.join(' | ')}${fixedRate ? ` — open loop at ${grouped(s.rate)} req/s` : ''} — medians of ${rounds} round(s), noisy runs left out when a clean one exists; CPU = the target process alone`,
    pad(header, widths),
    ...rows.map((r) => pad(r, widths)),
    ...(s.showUpstream ? upstreamLines(s) : []),
    ...s.comparisons.map(comparisonLine),
  ]
  lines.push(...s.gates.map(gateLine))
  return lines.join('\n')
}

export function summary(result: BenchResult): string {
  const { settings } = result
  const head =
    `cutover bench — ${result.machine.cpus} × ${result.machine.cpuModel}, node ${result.machine.node}, ` +
    `${settings.connections} connections, pipelining ${settings.pipelining}, ${settings.duration} s × ${settings.rounds} rounds ` +
    `(warm-up ${settings.warmup} s, then ${settings.rewarm} s), ` +
    `wall ${result.wallSeconds.toFixed(0)} s\n` +
    `code: ${result.commit ?? 'unknown commit'}${result.uncommitted.length > 0 ? ` + uncommitted ${result.uncommitted.join(', ')}` : ' (clean)'}`
  const ranges =
    'ratios: the median over rounds of (subject ÷ baseline within the round), counting only rounds where neither run was noisy ' +
    'when there is one; [a–b] is the lowest and highest of those per-round ratios.'
  const noise =
    'noise on this box: ratios within ~10 % (req/s, p99) or ~15 % (CPU/req) of 1.00× are not a difference.\n' +
    "'other load' = cores used by processes outside the bench during the run; runs above 0.25 are 'noisy' and left out of a row's medians unless none is clean ('clean' column)."
  const fixedRate =
    result.fixedRate === null
      ? []
      : [
          `fixed rate: ${grouped(result.fixedRate.rate)} req/s` +
            (result.fixedRate.saturatedRps === null
              ? ' (BENCH_RATE)'
              : ` = ${fixed(result.fixedRate.rate / result.fixedRate.saturatedRps, 2)} × ${grouped(result.fixedRate.saturatedRps)} req/s, the saturated mirror-off write (${result.fixedRate.measuredBy}) in this run`),
        ]
  const gates = result.scenarios.flatMap((s) => s.gates)
  const verdicts =
    gates.length === 0
      ? []
      : [
          `gates: ${gates.filter((g) => g.pass).length} of ${gates.length} PASS\n` +
            gates.map((g) => `${g.pass ? 'PASS' : 'FAIL'}  [${g.scenario}] ${gateLine(g).replace(/^ {2}gate /, '').replace(/ — (PASS|FAIL)/, '')}${gateBasis(g)}`).join('\n'),
        ]
  return [head, ...fixedRate, ...result.scenarios.map((s) => scenarioTable(s, settings.rounds)), ...verdicts, `${ranges}\n${noise}`].join('\n\n')
}
