/**
 * Kafka with TLS and SASL, as a managed cluster asks for: a broker of this file's own with
 * SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SSL and SASL_SSL listeners, and a CA made
 * for it. The gateway publishes through them; the test reads back with its own logged-in client.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent } from '../../src/publish/events.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { admin, call, gatewayFor, tempDir, testConfig } from '../support/gateway.ts'
import { collect, startSecureBroker, topicsFor, type ClientAuth, type SecureBroker } from '../support/kafka.ts'
import { deadPort, startOrigin, type Origin } from '../support/origin.ts'

let broker: SecureBroker
let legacy: Origin
let cloud: Origin

/** Legacy and cloud disagree on the price: every mirrored read is a mismatch. */
const price = (value: number) => (_req: unknown, res: ServerResponse) => {
  const text = JSON.stringify({ price: value })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

beforeAll(async () => {
  broker = await startSecureBroker()
  legacy = await startOrigin('legacy', price(1))
  cloud = await startOrigin('cloud', price(2))
}, 180_000)
afterAll(async () => {
  await Promise.all([legacy?.close(), cloud?.close()])
  await broker?.stop()
}, 60_000)

const route = (): NonNullable<CutoverConfigInput['routes']>[number] => ({ id: 'items', methods: ['GET'], path: '/items/:id', weight: 0, mirror: 'all' })

function gatewayConfig(kafka: NonNullable<CutoverConfigInput['kafka']>): CutoverConfigInput {
  return testConfig(legacy.url, cloud.url, { routes: [route()], kafka })
}

/** Sends `count` reads through a gateway on `kafka` and returns the diff events read back with `auth`. */
async function mismatchesThrough(kafka: Omit<NonNullable<CutoverConfigInput['kafka']>, 'topics'>, readFrom: string, auth: ClientAuth, count = 5): Promise<DiffEvent[]> {
  const topics = topicsFor('secure')
  const reader = await collect<DiffEvent>(topics.diffs, [readFrom], auth)
  const gw: Gateway = await gatewayFor(gatewayConfig({ ...kafka, topics }))
  try {
    for (let i = 0; i < count; i++) expect((await call(`${gw.dataUrl}/items/${i}`)).status).toBe(200)
    await gw.data.mirror.idle()
    await expect.poll(() => reader.messages.length, { timeout: 20_000 }).toBe(count)
    return reader.messages.map((m) => m.value)
  } finally {
    await gw.close()
    await reader.stop()
  }
}

describe('Kafka over SASL', () => {
  it('publishes diff events over SCRAM-SHA-512; a consumer of its own, logged in, reads them back', async () => {
    const events = await mismatchesThrough(
      { brokers: [broker.sasl], sasl: { mechanism: 'scram-sha-512', username: broker.user.name, password: broker.user.password } },
      broker.sasl,
      broker.auth('scram-sha-512'),
    )
    expect(events.map((e) => e.kind)).toEqual(Array(5).fill('mismatch'))
    expect(events.map((e) => e.path).sort()).toEqual(['/items/0', '/items/1', '/items/2', '/items/3', '/items/4'])
    expect(events[0]).toMatchObject({ route: 'items', primary: 'legacy', secondary: 'cloud' })
    expect(events[0]?.differences).toEqual([{ path: 'body.price', kind: 'changed', legacy: 1, cloud: 2 }])
  })

  it.each([
    ['scram-sha-256', 'passwordFile'],
    ['plain', 'passwordEnv'],
  ] as const)('publishes over %s, the password read from %s', async (mechanism, source) => {
    const variable = `CUTOVER_TEST_KAFKA_PASSWORD_${randomBytes(4).toString('hex').toUpperCase()}`
    let password: { passwordFile: string } | { passwordEnv: string }
    if (source === 'passwordFile') {
      const file = join(tempDir(), 'kafka-password')
      // as a secret mount usually has it: one trailing newline, which is not part of the password
      writeFileSync(file, `${broker.user.password}\n`)
      password = { passwordFile: file }
    } else {
      process.env[variable] = broker.user.password
      password = { passwordEnv: variable }
    }
    try {
      const events = await mismatchesThrough({ brokers: [broker.sasl], sasl: { mechanism, username: broker.user.name, ...password } }, broker.sasl, broker.auth(mechanism), 2)
      expect(events.map((e) => e.kind)).toEqual(['mismatch', 'mismatch'])
    } finally {
      delete process.env[variable]
    }
  })
})

describe('Kafka over TLS', () => {
  it('publishes to the SSL listener with the CA in kafka.ssl.caFile', async () => {
    const events = await mismatchesThrough({ brokers: [broker.ssl], ssl: { caFile: broker.caFile } }, broker.ssl, { ssl: { ca: [readFileSync(broker.caFile, 'utf8')] } }, 2)
    expect(events.map((e) => e.kind)).toEqual(['mismatch', 'mismatch'])
  })

  it('publishes over SASL_SSL (TLS and SCRAM-SHA-512, the usual managed cluster)', async () => {
    const events = await mismatchesThrough(
      { brokers: [broker.saslSsl], ssl: { caFile: broker.caFile }, sasl: { mechanism: 'scram-sha-512', username: broker.user.name, password: broker.user.password } },
      broker.saslSsl,
      broker.auth('scram-sha-512', true),
      2,
    )
    expect(events.map((e) => e.kind)).toEqual(['mismatch', 'mismatch'])
  })

  it('without the CA, cutover replay fails in one line naming the certificate problem', async () => {
    const noCa = writeConfig(gatewayConfig({ brokers: [broker.ssl], ssl: true, topics: topicsFor('tls') }))
    const run = runCli(['replay', '--config', noCa], { CUTOVER_KAFKA_BROKERS: '' })
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain(`kafka: TLS connection to ${broker.ssl} failed: self-signed certificate in certificate chain (kafka.ssl.caFile names the CA that signed the broker certificate)`)
    expect(run.output()).not.toMatch(/\n\s+at |KafkaJS/)

    const withCa = writeConfig(gatewayConfig({ brokers: [broker.ssl], ssl: { caFile: broker.caFile }, topics: topicsFor('tls') }))
    const ok = runCli(['replay', '--config', withCa], { CUTOVER_KAFKA_BROKERS: '' })
    expect(await ok.exited).toBe(0)
    expect(ok.output()).toMatch(/nothing to replay: topic \S+ does not exist/)
  })
})

describe('a gateway without the CA', () => {
  it('serves clients and logs the certificate problem in one line', async () => {
    const port = await deadPort()
    const cfg = testConfig(legacy.url, cloud.url, { listen: { host: '127.0.0.1', port }, routes: [route()], kafka: { brokers: [broker.ssl], ssl: true, topics: topicsFor('no-ca') } })
    const run = runCli(['start', '--config', writeConfig(cfg)], { CUTOVER_KAFKA_BROKERS: '' })
    try {
      await run.waitFor('cutover listening')
      expect((await call(`http://127.0.0.1:${port}/items/1`)).status).toBe(200)
      await run.waitFor(`kafka: TLS connection to ${broker.ssl} failed: self-signed certificate in certificate chain (kafka.ssl.caFile names the CA that signed the broker certificate): events go to the spool until this is fixed`)
    } finally {
      run.child.kill('SIGTERM')
      await run.exited
    }
    expect(run.output()).not.toMatch(/KafkaJS/)
  })
})

describe('route state shared over SASL_SSL', () => {
  it('starts on the control topic and puts a weight change on it, logged in over TLS', async () => {
    const topics = topicsFor('secure-shared')
    const kafka = { brokers: [broker.saslSsl], ssl: { caFile: broker.caFile }, sasl: { mechanism: 'scram-sha-512' as const, username: broker.user.name, password: broker.user.password }, topics }
    const gw = await gatewayFor(testConfig(legacy.url, cloud.url, { routes: [route()], kafka, state: { file: join(tempDir(), 'state.json'), shared: true } }))
    const control = await collect<{ state?: { weight?: number } }>(topics.control, [broker.saslSsl], broker.auth('scram-sha-512', true))
    try {
      expect((await admin(gw, '/routes/items', { method: 'PATCH', body: { weight: 25 } })).status).toBe(200)
      await expect.poll(() => control.messages.filter((m) => m.key === 'items').map((m) => m.value.state?.weight), { timeout: 20_000 }).toContain(25)
    } finally {
      await control.stop()
      await gw.close()
    }
  })
})

describe('a wrong password', () => {
  const wrong = `wrong-${randomBytes(12).toString('hex')}`

  it('cutover replay exits 1 with a clear line, and the password is nowhere in its output', async () => {
    const file = writeConfig(gatewayConfig({ brokers: [broker.sasl], sasl: { mechanism: 'scram-sha-512', username: broker.user.name, password: wrong }, topics: topicsFor('wrong') }))
    const run = runCli(['replay', '--config', file], { CUTOVER_KAFKA_BROKERS: '' })
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain(`kafka: SASL authentication failed for user '${broker.user.name}' (scram-sha-512)`)
    expect(run.output()).not.toMatch(/\n\s+at |KafkaJS/)
    expect(run.output()).not.toContain(wrong)
  })

  it('cutover start serves clients, spools events, logs the failure once, and never prints the password', async () => {
    const port = await deadPort()
    const variable = 'CUTOVER_TEST_KAFKA_PASSWORD'
    const spoolDir = join(tempDir(), 'spool')
    const cfg = testConfig(legacy.url, cloud.url, {
      listen: { host: '127.0.0.1', port },
      spool: { dir: spoolDir },
      routes: [route()],
      kafka: { brokers: [broker.sasl], sasl: { mechanism: 'plain', username: broker.user.name, passwordEnv: variable }, topics: topicsFor('wrong') },
    })
    const run = runCli(['start', '--config', writeConfig(cfg)], { CUTOVER_KAFKA_BROKERS: '', [variable]: wrong, LOG_LEVEL: 'debug' })
    try {
      await run.waitFor('cutover listening')
      expect((await call(`http://127.0.0.1:${port}/items/1`)).status).toBe(200)
      await run.waitFor(`kafka: SASL authentication failed for user '${broker.user.name}' (plain): events go to the spool until this is fixed`)
      // the next retries fail the same way: said at debug level, without the reason again
      await run.waitFor('Kafka still unavailable')
    } finally {
      run.child.kill('SIGTERM')
      await run.exited
    }
    // the diff event waits in the spool for Kafka
    const spooled = readdirSync(join(spoolDir, 'w0')).filter((f) => f.endsWith('.ndjson')).map((f) => readFileSync(join(spoolDir, 'w0', f), 'utf8')).join('')
    expect(spooled).toContain('"path":"/items/1"')
    const out = run.output()
    expect(out.split('SASL authentication failed').length - 1).toBe(1)
    expect(out).not.toContain(wrong)
    expect(out).not.toMatch(/KafkaJS/)
  })
})
