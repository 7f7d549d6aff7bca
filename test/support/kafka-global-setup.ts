/**
 * Vitest globalSetup: one Kafka broker for the whole test run, shared by every test file.
 *
 * - CUTOVER_KAFKA_BROKERS set (e.g. "127.0.0.1:9092" or a comma-separated list): use that
 *   existing cluster and start nothing.
 * - Otherwise: fetch the jars if needed (.cache/kafka) and start the project's own single-node
 *   KRaft broker on free ports (scripts/kafka-broker.ts); teardown stops it.
 *
 * Tests read the bootstrap list with `inject('kafkaBrokers')` (a comma-separated string).
 */
import type { TestProject } from 'vitest/node'
import { fetchJars, startBroker } from '../../scripts/kafka-broker.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated Kafka bootstrap list, e.g. "127.0.0.1:40123". */
    kafkaBrokers: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.CUTOVER_KAFKA_BROKERS?.trim()
  if (external) {
    project.provide('kafkaBrokers', external)
    return async () => {}
  }

  await fetchJars()
  const broker = await startBroker()
  project.provide('kafkaBrokers', broker.brokers)
  return async () => {
    await broker.stop()
  }
}
