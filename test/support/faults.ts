import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import { admin, gatewayFor, testConfig } from './gateway.ts'
import { deadPort, echo, startOrigin, type Origin, type OriginHandler } from './origin.ts'

/** Two real origins (or a dead port for either) and a gateway in front of them: the fault suite's setup. */
export interface FaultBed {
  readonly legacy: Origin
  /** null when cloud is a dead port */
  readonly cloud: Origin | null
  readonly gw: Gateway
  close(): Promise<void>
}

export interface FaultBedOptions {
  readonly legacy?: OriginHandler
  /** 'dead': nothing listens on cloud's port */
  readonly cloud?: OriginHandler | 'dead'
  /** merged over testConfig(); `backends` entries get the origins' URLs filled in */
  readonly config?: Partial<CutoverConfigInput>
  readonly backends?: { legacy?: Record<string, unknown>; cloud?: Record<string, unknown> }
}

export async function faultBed(opts: FaultBedOptions): Promise<FaultBed> {
  const legacy = await startOrigin('legacy', opts.legacy ?? echo('legacy'))
  const cloud = opts.cloud === 'dead' ? null : await startOrigin('cloud', opts.cloud ?? echo('cloud'))
  const cloudUrl = cloud?.url ?? `http://127.0.0.1:${await deadPort()}`
  const gw = await gatewayFor(
    testConfig(legacy.url, cloudUrl, {
      backends: {
        legacy: { url: legacy.url, timeoutMs: 2000, ...opts.backends?.legacy },
        cloud: { url: cloudUrl, timeoutMs: 2000, ...opts.backends?.cloud },
      },
      ...opts.config,
    }),
  )
  return {
    legacy,
    cloud,
    gw,
    async close() {
      await gw.close()
      await Promise.all([legacy.close(), cloud?.close()])
    },
  }
}

/** One sample of a Prometheus counter from the admin API's /metrics (0 when absent). */
export async function metricValue(gw: Gateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await admin(gw, '/metrics')).text
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue
    const labelText = line.slice(name.length + 1, line.indexOf('}'))
    const have = labelText.split(',')
    if (want.every((w) => have.includes(w))) total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

/** Runs `n` requests, `concurrency` at a time, and returns their results in order. */
export async function inBatches<T>(n: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < n; i += concurrency) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, (_, j) => one(i + j)))))
  }
  return out
}
