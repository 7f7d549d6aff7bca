import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { CutoverError } from '../../src/errors.ts'
import { kafkaClientOptions, kafkaErrorMessage, kafkaSecurityProblems } from '../../src/publish/kafka-client.ts'
import { runCli, writeConfig } from '../support/cli.ts'
import { backends, problems } from '../support/config.ts'
import { tempDir } from '../support/gateway.ts'

const brokers = ['kafka-1.example.com:9096']
const kafkaOf = (kafka: Record<string, unknown>) => {
  const parsed = validateConfig({ backends, kafka: { brokers, ...kafka } }).kafka
  if (parsed === undefined) throw new Error('no kafka section')
  return parsed
}

describe('kafka.ssl and kafka.sasl in the config', () => {
  it('accepts ssl: true and an ssl object, with rejectUnauthorized on by default', () => {
    expect(kafkaOf({ ssl: true }).ssl).toEqual({ rejectUnauthorized: true })
    expect(kafkaOf({ ssl: { caFile: '/etc/kafka/ca.pem', rejectUnauthorized: false } }).ssl).toEqual({ caFile: '/etc/kafka/ca.pem', rejectUnauthorized: false })
  })

  it('names the bad ssl field', () => {
    expect(problems({ backends, kafka: { brokers, ssl: 'yes' } })).toEqual(['kafka.ssl: must be true or an object { caFile?, certFile?, keyFile?, rejectUnauthorized? }'])
    expect(problems({ backends, kafka: { brokers, ssl: { caFile: 3 } } })).toEqual(['kafka.ssl.caFile: must be a file path'])
    expect(problems({ backends, kafka: { brokers, ssl: { cafile: '/ca.pem' } } })).toEqual(['kafka.ssl.cafile: unknown option'])
    expect(problems({ backends, kafka: { brokers, ssl: { certFile: '/c.pem' } } })).toEqual(['kafka.ssl.keyFile: is required with certFile (a client certificate needs its key)'])
    expect(problems({ backends, kafka: { brokers, ssl: { keyFile: '/k.pem' } } })).toEqual(['kafka.ssl.certFile: is required with keyFile (a client key needs its certificate)'])
  })

  it('accepts each mechanism with each password source', () => {
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
      for (const source of [{ password: 'p' }, { passwordFile: '/run/secrets/kafka' }, { passwordEnv: 'KAFKA_PASSWORD' }]) {
        expect(kafkaOf({ sasl: { mechanism, username: 'svc', ...source } }).sasl).toEqual({ mechanism, username: 'svc', ...source })
      }
    }
  })

  it('wants exactly one password source, and names the bad sasl field', () => {
    expect(problems({ backends, kafka: { brokers, sasl: { mechanism: 'scram-sha-512', username: 'svc' } } })).toEqual(['kafka.sasl.password: is required: give one of password, passwordFile, passwordEnv'])
    expect(problems({ backends, kafka: { brokers, sasl: { mechanism: 'plain', username: 'svc', password: 'p', passwordEnv: 'X' } } })).toEqual([
      'kafka.sasl.passwordEnv: cannot be given together with password: give exactly one of password, passwordFile, passwordEnv',
    ])
    expect(problems({ backends, kafka: { brokers, sasl: { mechanism: 'gssapi', username: '', password: 'p' } } })).toEqual([
      "kafka.sasl.mechanism: must be one of 'plain', 'scram-sha-256', 'scram-sha-512'",
      'kafka.sasl.username: must not be empty',
    ])
    expect(problems({ backends, kafka: { brokers, sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'not a name' } } })).toEqual(['kafka.sasl.passwordEnv: must be the name of an environment variable'])
    expect(problems({ backends, kafka: { brokers, sasl: 'svc:secret' } })).toEqual(['kafka.sasl: must be an object { mechanism, username, password | passwordFile | passwordEnv }'])
  })

  it('never puts a password into a problem message', () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`
    const reported = problems({ backends, kafka: { brokers, sasl: { mechanism: 'nope', username: 'u', password: secret, passwordFile: '/x' } } })
    expect(reported.length).toBeGreaterThan(0)
    expect(reported.join('\n')).not.toContain(secret)
  })
})

describe('kafkaClientOptions', () => {
  it('is the one place that turns the kafka section into kafkajs options', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM')
    writeFileSync(join(dir, 'pw'), 'from-file\n')
    const options = kafkaClientOptions(kafkaOf({ clientId: 'gw', ssl: { caFile: join(dir, 'ca.pem') }, sasl: { mechanism: 'scram-sha-256', username: 'svc', passwordFile: join(dir, 'pw') } }), 'replay', { retry: { retries: 3 } })
    expect(options).toMatchObject({ clientId: 'gw-replay', brokers, retry: { retries: 3 }, ssl: { ca: ['CA PEM'], rejectUnauthorized: true }, sasl: { mechanism: 'scram-sha-256', username: 'svc', password: 'from-file' } })
    expect(kafkaClientOptions(kafkaOf({}), null)).not.toHaveProperty('sasl')
    expect(kafkaClientOptions(kafkaOf({}), null)).not.toHaveProperty('ssl')
    const fromEnv = kafkaClientOptions(kafkaOf({ sasl: { mechanism: 'plain', username: 'svc', passwordEnv: 'KAFKA_PW' } }), 'control', {}, { KAFKA_PW: 'from-env' })
    expect(fromEnv.sasl).toEqual({ mechanism: 'plain', username: 'svc', password: 'from-env' })
  })

  it('refuses an unreadable file or an unset variable, naming the field (and not the content)', () => {
    const kafka = kafkaOf({ ssl: { caFile: '/nonexistent/ca.pem' }, sasl: { mechanism: 'plain', username: 'svc', passwordEnv: 'KAFKA_PW' } })
    expect(kafkaSecurityProblems(kafka, {})).toEqual(['kafka.ssl.caFile: cannot read /nonexistent/ca.pem (ENOENT)', 'kafka.sasl.passwordEnv: environment variable KAFKA_PW is not set'])
    expect(() => kafkaClientOptions(kafka, null, {}, {})).toThrow(CutoverError)
    const empty = join(tempDir(), 'empty')
    writeFileSync(empty, '\n')
    expect(kafkaSecurityProblems(kafkaOf({ sasl: { mechanism: 'plain', username: 'svc', passwordFile: empty } }), {})).toEqual([`kafka.sasl.passwordFile: ${empty} is empty`])
  })
})

describe('kafkaErrorMessage', () => {
  it('never quotes the password, wherever an error put it', () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`
    const kafka = kafkaOf({ sasl: { mechanism: 'plain', username: 'svc', password: secret } })
    const wrapped = new Error('retries exhausted', { cause: new Error(`broker said: bad login ${secret}`) })
    expect(kafkaErrorMessage(new Error(`echoed ${secret} back`), kafka)).toBe('kafka: echoed [redacted] back')
    expect(kafkaErrorMessage(wrapped, kafka)).toBe('kafka: retries exhausted')
  })
})

describe('cutover check with kafka security', () => {
  const config = (sasl: { password: string } | { passwordEnv: string } | { passwordFile: string }): CutoverConfigInput => ({ backends, kafka: { brokers, ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'svc', ...sasl } } })

  it('accepts an inline password without printing it', async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`
    const run = runCli(['check', '--config', writeConfig(config({ password: secret }))], { CUTOVER_KAFKA_BROKERS: '' })
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain(': ok (2 backends, 0 routes)')
    expect(run.output()).not.toContain(secret)
  })

  it('exits 1 when the password variable is unset or the password file cannot be read, as start does', async () => {
    const check = runCli(['check', '--config', writeConfig(config({ passwordEnv: 'CUTOVER_TEST_UNSET_PASSWORD' }))], { CUTOVER_KAFKA_BROKERS: '', CUTOVER_TEST_UNSET_PASSWORD: '' })
    expect(await check.exited).toBe(1)
    expect(check.output()).toContain('kafka.sasl.passwordEnv: environment variable CUTOVER_TEST_UNSET_PASSWORD is not set')
    const start = runCli(['start', '--config', writeConfig(config({ passwordFile: '/nonexistent/kafka-password' }))], { CUTOVER_KAFKA_BROKERS: '' })
    expect(await start.exited).toBe(1)
    expect(start.output()).toContain('kafka.sasl.passwordFile: cannot read /nonexistent/kafka-password (ENOENT)')
    expect(start.output()).not.toContain('listening')
    expect(start.output()).not.toMatch(/\n\s+at /)
  })
})
