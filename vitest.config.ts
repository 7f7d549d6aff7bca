import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // a real single-node Kafka broker for the whole run (or CUTOVER_KAFKA_BROKERS when set)
    globalSetup: ['test/support/kafka-global-setup.ts'],
    // closes the origins and gateways the fixtures of test/support/setup.ts opened in beforeAll
    setupFiles: ['test/support/close-after-file.ts'],
    env: { KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
})
