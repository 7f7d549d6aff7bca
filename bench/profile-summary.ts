/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, or BENCH_PROFILE=cutover npm run bench):
 * top functions by self time, by inclusive (total) time, and self time by file/package.
 * Percentages are of busy time (idle excluded).
 *
 * Usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [--top 25] [--filter src/]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
  readonly startTime: number
  readonly endTime: number
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' }, filter: { type: 'string' } },
  allowPositionals: true,
  strict: true,
})
const file = positionals[0]
if (file === undefined) throw new Error('usage: tsx bench/profile-summary.ts FILE.cpuprofile [--top N] [--filter TEXT]')
const top = Number(values.top)

const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile

/** `node:internal/…`, `undici/lib/…`, `src/proxy/forwarder.ts`: where a frame's code lives. */
function place(url: string): string {
  if (url === '') return '(native/vm)'
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:')
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length)
  const repo = url.search(/\/(src|bench|test)\//)
  return repo >= 0 ? url.slice(repo + 1) : url.replace(/^file:\/\//, '')
}

function pkg(url: string): string {
  const p = place(url)
  if (p.startsWith('node:') || p.startsWith('(')) return p.startsWith('node:') ? 'node core' : p
  if (p.startsWith('src/') || p.startsWith('bench/')) return p
  const parts = p.split('/')
  return parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1]}` : (parts[0] ?? p)
}

function keyOf(f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName
  // tsx-transpiled files report line 1 for everything: the column still tells functions apart
  return f.url === '' ? name : `${name}  ${place(f.url)}:${f.lineNumber + 1}${f.lineNumber === 0 ? `:${f.columnNumber + 1}` : ''}`
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfByNode = new Map<number, number>()
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] as number
  // timeDeltas[i] is the time before sample i; attribute it to that sample's node
  selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
}

const idle = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((t, n) => t + (selfByNode.get(n.id) ?? 0), 0)
const total = [...selfByNode.values()].reduce((a, b) => a + b, 0)
const busy = total - idle

const self = new Map<string, number>()
const byPkg = new Map<string, number>()
for (const n of profile.nodes) {
  const t = selfByNode.get(n.id) ?? 0
  if (t === 0 || n.callFrame.functionName === '(idle)') continue
  const k = keyOf(n.callFrame)
  self.set(k, (self.get(k) ?? 0) + t)
  const p = n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : pkg(n.callFrame.url)
  byPkg.set(p, (byPkg.get(p) ?? 0) + t)
}

// inclusive time per function, counting a recursive function once per stack
const inclusive = new Map<string, number>()
const root = profile.nodes[0]
function walk(node: ProfileNode, onStack: Set<string>): number {
  let t = selfByNode.get(node.id) ?? 0
  const k = keyOf(node.callFrame)
  const fresh = !onStack.has(k)
  if (fresh) onStack.add(k)
  for (const c of node.children ?? []) {
    const child = byId.get(c)
    if (child !== undefined) t += walk(child, onStack)
  }
  if (fresh) {
    onStack.delete(k)
    if (node.callFrame.functionName !== '(idle)') inclusive.set(k, (inclusive.get(k) ?? 0) + t)
  }
  return t
}
if (root !== undefined) walk(root, new Set())
inclusive.delete(keyOf(root?.callFrame ?? { functionName: '(root)', url: '', lineNumber: 0, columnNumber: 0 }))

const ms = (us: number): string => (us / 1000).toFixed(0).padStart(7)
const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`
const filter = values.filter

function table(title: string, m: ReadonlyMap<string, number>): void {
  const rows = [...m.entries()].filter(([k]) => filter === undefined || k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top)
  process.stdout.write(`\n${title}\n`)
  for (const [k, t] of rows) process.stdout.write(`${ms(t)} ms ${pct(t)}  ${k}\n`)
}

process.stdout.write(
  `${file}\nwall ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s (percentages are of busy time)\n`,
)
table('self time by package / file', byPkg)
table(`top ${top} functions by self time`, self)
table(`top ${top} functions by total (inclusive) time`, inclusive)
