/**
 * The child side of the bench protocol. Every target (origin, proxies, Cutover) runs in its own
 * process so that its CPU time can be read alone: the parent asks over IPC, the child answers with
 * `process.cpuUsage()` (RUSAGE_SELF, so GC and libuv threads are included). Run by hand (no IPC),
 * a child just prints its URL and stops on SIGINT/SIGTERM — cleanly, so `--cpu-prof` is written.
 */

/** Parent → child. */
export type ParentMessage = { readonly type: 'stats'; readonly id: number } | { readonly type: 'stop' }

/** Child → parent. */
export type ChildMessage =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'stats'; readonly id: number; readonly cpuMicros: number; readonly requests: number; readonly counters: Readonly<Record<string, number>> }

export interface RunningTarget {
  readonly url: string
  /** Requests this process has answered itself (origins count; proxies report 0). */
  requests?(): number
  /** Running totals the target keeps itself (Cutover: mirror outcomes, cache results), by name. */
  counters?(): Promise<Record<string, number>>
  close(): Promise<void>
}

export function isParentMessage(m: unknown): m is ParentMessage {
  if (typeof m !== 'object' || m === null) return false
  const type = (m as { type?: unknown }).type
  return type === 'stop' || (type === 'stats' && typeof (m as { id?: unknown }).id === 'number')
}

/** Starts a target and serves the protocol until told to stop (or the parent goes away). */
export async function serveChild(name: string, start: () => Promise<RunningTarget>): Promise<void> {
  const target = await start()
  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    // bounded: a keep-alive client must not hold the bench hostage
    const timer = setTimeout(() => process.exit(0), 2000)
    timer.unref()
    try {
      await target.close()
    } finally {
      process.exit(0)
    }
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())

  const send = process.send?.bind(process)
  if (send === undefined) {
    process.stdout.write(`${name} listening on ${target.url}\n`)
    return
  }
  process.on('message', (m: unknown) => {
    if (!isParentMessage(m)) return
    if (m.type === 'stop') {
      void stop()
      return
    }
    // CPU first: reading the counters (async for Cutover's prom-client) is the bench's doing
    const cpu = process.cpuUsage()
    const requests = target.requests?.() ?? 0
    const counters = target.counters?.() ?? Promise.resolve({})
    void counters
      .catch((err: unknown) => {
        process.stderr.write(`${name}: could not read counters: ${String(err)}\n`)
        return {}
      })
      .then((c) => {
        const reply: ChildMessage = { type: 'stats', id: m.id, cpuMicros: cpu.user + cpu.system, requests, counters: c }
        send(reply)
      })
  })
  process.once('disconnect', () => void stop())
  const ready: ChildMessage = { type: 'ready', url: target.url }
  send(ready)
}
