import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../support/cli.ts'
import { brokers } from '../support/kafka.ts'

/** Runs a script in a fresh Node (the one running the tests) and returns what it printed on stderr. */
function stderrOf(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, stderr }))
  })
}

describe('process warnings', () => {
  // On Node 24 (CI's newest line) kafkajs's request queue sets a negative timer on every answer
  it('a real kafkajs producer prints no TimeoutNegativeWarning; other warnings still print', async () => {
    const { code, stderr } = await stderrOf(`
      import { quietKafkaTimerWarning } from './src/process-warnings.ts'
      import { Kafka, logLevel } from 'kafkajs'
      quietKafkaTimerWarning()
      const producer = new Kafka({ brokers: ${JSON.stringify(brokers())}, logLevel: logLevel.NOTHING }).producer()
      await producer.connect()
      await producer.send({ topic: 'node-warnings-${process.pid}', messages: [{ value: 'x' }] })
      await producer.disconnect()
      process.emitWarning('still shown', 'CustomWarning')
    `)
    expect(code).toBe(0)
    expect(stderr).toContain('CustomWarning: still shown')
    expect(stderr).not.toContain('TimeoutNegativeWarning')
  })
})
