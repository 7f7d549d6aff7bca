import { randomBytes } from 'node:crypto'
import { loadConfig } from '../config/load.ts'
import { startGateway } from '../gateway.ts'
import { createLogger } from '../log.ts'
import { startDemoBackend } from './demo-backends.ts'

/**
 * `npm start`: the two demo backends and the gateway on the bundled routes.config.ts, no Kafka.
 */
const log = createLogger()
if (process.env.CUTOVER_ADMIN_TOKEN === undefined || process.env.CUTOVER_ADMIN_TOKEN === '') {
  process.env.CUTOVER_ADMIN_TOKEN = `demo-${randomBytes(12).toString('hex')}`
}
const config = await loadConfig(process.env.CUTOVER_CONFIG ?? 'routes.config.ts')
const legacyPort = Number(new URL(config.backends.legacy?.url ?? 'http://127.0.0.1:3001').port)
const cloudPort = Number(new URL(config.backends.cloud?.url ?? 'http://127.0.0.1:3002').port)
const legacy = await startDemoBackend('legacy', legacyPort)
const cloud = await startDemoBackend('cloud', cloudPort)
const gateway = await startGateway(config, { log })
const token = process.env.CUTOVER_ADMIN_TOKEN
const auth = `-H 'authorization: Bearer ${token}'`

process.stdout.write(`
Cutover demo is running.
  gateway        ${gateway.dataUrl}
  admin API      ${gateway.adminUrl}   (token: ${token})
  ops console    ${gateway.adminUrl}/   in a browser; log in with the token
  legacy backend ${legacy.url}
  cloud backend  ${cloud.url}   (serves /v2/orders, adds 'currency', totals as strings)

Try:
  curl -i ${gateway.dataUrl}/api/orders/1 -H 'x-user-id: alice'
  curl -s ${gateway.adminUrl}/routes ${auth}
  curl -s -X PATCH ${gateway.adminUrl}/routes/orders-read ${auth} -H 'content-type: application/json' -d '{"weight":100}'
  curl -i ${gateway.dataUrl}/api/orders/1 -H 'x-user-id: alice'      # now from cloud
  curl -s -X POST ${gateway.adminUrl}/routes/orders-read/rollback ${auth}
  curl -s -X POST ${gateway.dataUrl}/api/orders -H 'content-type: application/json' -d '{"item":"pen","total":5}'
  curl -s '${gateway.adminUrl}/diffs?limit=5' ${auth}   # what cloud answered differently
  CUTOVER_ADMIN_TOKEN=${token} npm run cutover -- report --admin ${gateway.adminUrl}   # ready to raise?

Writes are mirrored to cloud and reads sampled (10 %); without Kafka the diff events are
also appended to ${config.spool.dir}/w0/ (newline-delimited JSON).
  curl -s ${gateway.adminUrl}/metrics ${auth} | grep cutover_

Ctrl-C stops everything.
`)

const stop = async (): Promise<void> => {
  await gateway.close()
  await Promise.all([legacy.close(), cloud.close()])
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())
