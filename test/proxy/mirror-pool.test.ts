import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { until } from '../support/cli.ts'
import { call } from '../support/gateway.ts'
import { withGateway } from '../support/setup.ts'

/**
 * Cloud is the primary of one route and the secondary of another, with one connection for client
 * traffic: a mirrored call that cloud answers slowly must not hold the connection its primary
 * requests need.
 */
let gw: Gateway
let releaseSlow: (() => void) | null = null

beforeAll(async () => {
  ;({ gw } = await withGateway({
    cloud: (req, res) => {
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"ok":true}')
      }
      // the mirrored write waits until the test lets it go
      if (req.url === '/slow') releaseSlow = answer
      else answer()
    },
    config: ({ legacy, cloud }) => ({
      backends: { legacy: { url: legacy.url, timeoutMs: 10_000 }, cloud: { url: cloud.url, timeoutMs: 10_000, connections: 1, mirrorConnections: 1 } },
      routes: [
        { id: 'served-by-cloud', methods: ['GET'], path: '/fast', weight: 100, mirror: 'off' },
        { id: 'mirrored-to-cloud', methods: ['POST'], path: '/slow', weight: 0, mirror: 'writes' },
      ],
    }),
  }))
})
function release(): void {
  const answer = releaseSlow
  releaseSlow = null
  answer?.()
}

afterAll(async () => {
  release()
})

describe('mirrored calls have connections of their own', () => {
  it("a slow mirrored call on cloud does not delay cloud's primary requests", async () => {
    expect((await call(`${gw.dataUrl}/slow`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(200)
    await until(() => releaseSlow !== null, 5000, 'cloud to hold the mirrored write')
    // (the client already has legacy's answer: mirroring starts after it)
    expect(gw.data.mirror.inFlight).toBe(1)
    const started = performance.now()
    const answers = await Promise.all(Array.from({ length: 5 }, () => call(`${gw.dataUrl}/fast`)))
    const ms = performance.now() - started
    expect(answers.map((a) => a.headers['x-cutover-backend'])).toEqual(Array(5).fill('cloud'))
    // shared with the mirror, the one connection would be held until the test releases it
    expect(ms).toBeLessThan(2000)
    expect(gw.data.mirror.inFlight).toBe(1)
    release()
    await gw.data.mirror.idle()
  })
})
