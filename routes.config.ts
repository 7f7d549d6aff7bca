import { defineConfig } from 'cutover'

// The embedded demo's config (`npm start`): legacy and cloud demo backends on 3001 and 3002.
// Copy it as the start of your own; every option is described in docs/config.md.
export default defineConfig({
  listen: { host: '0.0.0.0', port: 8080 },
  admin: { host: '127.0.0.1', port: 9901, token: process.env.CUTOVER_ADMIN_TOKEN },
  backends: {
    legacy: { url: 'http://127.0.0.1:3001', timeoutMs: 5000, connections: 128 },
    cloud: {
      url: 'http://127.0.0.1:3002',
      timeoutMs: 5000,
      connections: 128,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 20, resetTimeoutMs: 10000 },
    },
  },
  routes: [
    {
      id: 'orders-read',
      methods: ['GET'],
      path: '/api/orders/:id',
      rewrite: { cloud: '/v2/orders/:id' },
      weight: 10,
      sticky: { header: 'x-user-id' },
      mirror: 'all',
      readSample: 0.1,
      cache: { ttlMs: 2000 },
      compare: { ignore: ['body.updatedAt', 'headers.date'] },
    },
    {
      id: 'orders-write',
      methods: ['POST', 'PUT', 'PATCH', 'DELETE'],
      path: '/api/orders/*',
      rewrite: { cloud: '/v2/orders/*' },
      weight: 0,
      mirror: 'writes',
      propagate: [{ from: 'body.id', to: 'header.x-cutover-entity-id' }],
      compare: { ignore: ['body.updatedAt'] },
      guard: { maxErrorRate: 0.02, maxMismatchRate: 0.01, windowMs: 60000, minRequests: 50 },
    },
  ],
  fallback: 'legacy', // unmatched requests: a backend name, or 404
  spool: { dir: '.cutover/spool' },
  state: { file: '.cutover/state.json' },
  limits: { bodyBytes: 1048576, mirrorBodyBytes: 262144 },
})
