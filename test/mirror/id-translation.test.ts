import { join } from 'node:path'
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CutoverConfigInput } from '../../src/config/schema.ts'
import type { Gateway } from '../../src/gateway.ts'
import type { DiffEvent, IdPairEvent, ReplayEvent } from '../../src/publish/events.ts'
import { replay } from '../../src/publish/replay.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { admin, call, gatewayFor, tempDir, testConfig } from '../support/gateway.ts'
import { brokers, collect, topicsFor, type Collected } from '../support/kafka.ts'
import { startCloudPosts, startLegacyPosts, type PostStore } from '../support/post-stores.ts'

let legacy: PostStore
let cloud: PostStore
let gw: Gateway | undefined
let diffTopic: Collected<DiffEvent>
let idTopic: Collected<IdPairEvent>
let replayTopic: Collected<ReplayEvent>
const topics = topicsFor('ids')
const stateDir = tempDir()

/** Legacy numbers posts, cloud generates string ids: every route of the posts API shares one map. */
function config(dir: string, kafka: boolean): CutoverConfigInput {
  return testConfig(legacy.url, cloud.url, {
    routes: [
      {
        id: 'posts',
        methods: ['GET', 'POST'],
        path: '/posts',
        mirror: 'all',
        ids: { map: 'posts', from: 'body.id', fields: ['body.replyTo'], compare: ['body.id', 'body.replyTo', 'body[*].id', 'body[*].replyTo'] },
      },
      { id: 'post', methods: ['GET', 'PATCH', 'PUT', 'DELETE'], path: '/posts/:id', mirror: 'all', ids: { map: 'posts', params: ['id'], fields: ['body.replyTo'] } },
    ],
    state: { file: join(dir, 'state.json') },
    spool: { dir: join(dir, 'spool') },
    ...(kafka ? { kafka: { brokers: brokers(), topics } } : {}),
  })
}

async function json(method: string, path: string, body?: unknown): Promise<{ status: number; value: Record<string, unknown> }> {
  if (gw === undefined) throw new Error('no gateway')
  const res = await call(gw.dataUrl + path, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  return { status: res.status, value: res.json() as Record<string, unknown> }
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  if (gw === undefined) throw new Error('no gateway')
  const m = (await gw.metrics.registry.getSingleMetric(name)?.get())?.values ?? []
  return m.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((n, v) => n + v.value, 0)
}

const byTitle = (store: PostStore, title: string): Record<string, unknown> | undefined => [...store.posts.values()].find((p) => p.title === title)

beforeAll(async () => {
  legacy = await startLegacyPosts()
  cloud = await startCloudPosts()
  ;[diffTopic, replayTopic] = await Promise.all([collect<DiffEvent>(topics.diffs), collect<ReplayEvent>(topics.replay)])
  // the gateway creates the id topic (compacted) before anyone else does
  gw = await gatewayFor(config(stateDir, true))
  idTopic = await collect<IdPairEvent>(topics.ids)
})
afterAll(async () => {
  await Promise.all([diffTopic?.stop(), idTopic?.stop(), replayTopic?.stop()])
  await gw?.close()
  await Promise.all([legacy?.close(), cloud?.close()])
})

describe('id translation: legacy numeric ids, cloud generated string ids', () => {
  it('pairs 50 creates, sends every mirrored PATCH/PUT/DELETE/GET to the right cloud resource, and reports no id-only difference', async () => {
    // 50 creates, every fifth a reply to the post before it (a body field carrying a legacy id)
    const legacyIds: number[] = []
    for (let i = 1; i <= 50; i++) {
      const body: Record<string, unknown> = { title: `post-${i}`, text: `text ${i}` }
      if (i % 5 === 0) body.replyTo = legacyIds.at(-1)
      const res = await json('POST', '/posts', body)
      expect(res.status).toBe(201)
      legacyIds.push(res.value.id as number)
    }
    expect(legacyIds).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    // straight after the creates, without waiting for their mirrored calls: a PATCH right behind its
    // create waits for the pair rather than going to /posts/<legacy id> on cloud
    for (const id of legacyIds) {
      if (id % 2 === 1) expect((await json('PATCH', `/posts/${id}`, { title: `post-${id}`, text: `patched ${id}` })).status).toBe(200)
    }
    for (const id of legacyIds) if (id % 7 === 0) expect((await json('PUT', `/posts/${id}`, { title: `post-${id}`, text: `replaced ${id}`, replyTo: 1 })).status).toBe(200)
    for (const id of legacyIds) if (id % 10 === 3) expect((await json('DELETE', `/posts/${id}`)).status).toBe(200)
    for (const id of legacyIds) await json('GET', `/posts/${id}`)
    expect((await json('GET', '/posts')).status).toBe(200)
    await gw!.data.mirror.idle()

    // cloud's store holds the same posts with its own ids: content equal, references translated
    expect(cloud.posts.size).toBe(legacy.posts.size)
    expect(legacy.posts.size).toBe(45)
    for (const l of legacy.posts.values()) {
      const c = byTitle(cloud, l.title as string)
      expect(c, `cloud has ${String(l.title)}`).toBeDefined()
      expect(typeof c!.id).toBe('string')
      expect(c!.text).toBe(l.text)
      if (l.replyTo === undefined) expect(c!.replyTo).toBeUndefined()
      else expect(cloud.posts.get(c!.replyTo as string)?.title).toBe(legacy.posts.get(String(l.replyTo))?.title)
    }
    for (const id of legacyIds) {
      const title = `post-${id}`
      if (id % 10 === 3) expect(byTitle(cloud, title)).toBeUndefined()
      else if (id % 7 === 0) expect(byTitle(cloud, title)!.text).toBe(`replaced ${id}`)
      else if (id % 2 === 1) expect(byTitle(cloud, title)!.text).toBe(`patched ${id}`)
    }
    // no mirrored call reached a missing resource on cloud, and nothing differed
    expect(cloud.origin.requests.filter((r) => /^\/posts\/\d+$/.test(r.url))).toEqual([])
    expect(await metric('cutover_mirror_total', { outcome: 'mismatch' })).toBe(0)
    expect(await metric('cutover_mirror_total', { outcome: 'match' })).toBe(50 + 25 + 7 + 5 + 50 + 1)
    expect(gw!.data.diffs.recent({}, 1000)).toEqual([])
    // 25 PATCH + 7 PUT + 5 DELETE + 50 GET path ids, and 10 + 7 replyTo fields
    expect(await metric('cutover_id_translations_total', { result: 'hit' })).toBe(25 + 7 + 5 + 50 + 10 + 7)
    expect(await metric('cutover_id_translations_total', { result: 'miss' })).toBe(0)

    // every pair is on the compacted topic, keyed map\0legacy id; no diff event went out
    await expect.poll(() => idTopic.messages.length, { timeout: 15_000 }).toBe(50)
    expect(idTopic.messages[0]).toMatchObject({ key: 'posts\u00001', value: { schema: 'cutover.id/v1', map: 'posts', legacy: '1', cloud: byTitle(cloud, 'post-1')!.id } })
    expect(diffTopic.messages).toEqual([])
    const kafkaAdmin = new Kafka({ clientId: 'ids-test', brokers: brokers(), logLevel: logLevel.NOTHING }).admin()
    await kafkaAdmin.connect()
    try {
      const described = await kafkaAdmin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topics.ids, configNames: ['cleanup.policy'] }], includeSynonyms: false })
      expect(described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue).toBe('compact')
    } finally {
      await kafkaAdmin.disconnect()
    }

    const listed = await admin(gw!, '/ids?map=posts&limit=3')
    expect(listed.status).toBe(200)
    expect(listed.json()).toEqual({
      maps: { posts: 50 },
      pairs: [50, 49, 48].map((n) => ({ map: 'posts', legacy: String(n), cloud: byTitle(cloud, `post-${n}`)!.id })),
    })
    expect((await admin(gw!, '/ids?limit=x')).status).toBe(400)
  })

  it('an id with no known pair is sent unchanged and counted as a miss', async () => {
    const before = await metric('cutover_id_translations_total', { route: 'post', result: 'miss' })
    const c0 = cloud.origin.requests.length
    expect((await json('GET', '/posts/9999')).status).toBe(404)
    await gw!.data.mirror.idle()
    expect(cloud.origin.requests.slice(c0).map((r) => r.url)).toEqual(['/posts/9999'])
    expect(await metric('cutover_id_translations_total', { route: 'post', result: 'miss' })).toBe(before + 1)
  })

  it('keeps the map across a restart: from the local file, and from the topic with a fresh state folder', async () => {
    await gw!.close()
    // the file alone (no Kafka)
    gw = await gatewayFor(config(stateDir, false))
    expect(gw.data.ids?.map.size).toBe(50)
    expect((await json('PATCH', '/posts/2', { text: 'after restart' })).status).toBe(200)
    await gw.data.mirror.idle()
    expect(byTitle(cloud, 'post-2')!.text).toBe('after restart')
    await gw.close()

    // the topic alone: nothing on disk
    gw = await gatewayFor(config(tempDir(), true))
    expect(gw.data.ids?.map.size).toBe(50)
    expect((await json('PATCH', '/posts/4', { text: 'from the topic' })).status).toBe(200)
    await gw.data.mirror.idle()
    expect(byTitle(cloud, 'post-4')!.text).toBe('from the topic')
    expect(await metric('cutover_mirror_total', { outcome: 'mismatch' })).toBe(0)
  })

  it('a gateway replica sharing the topic learns the pairs another one records', async () => {
    const replica = await gatewayFor(config(tempDir(), true))
    try {
      const created = await json('POST', '/posts', { title: 'post-shared', text: 'created through the first gateway' })
      await gw!.data.mirror.idle()
      const cloudId = byTitle(cloud, 'post-shared')!.id
      await expect.poll(() => replica.data.ids?.map.translate('posts', 'legacy', String(created.value.id)), { timeout: 15_000 }).toBe(cloudId)
      const res = await call(`${replica.dataUrl}/posts/${String(created.value.id)}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"text":"patched through the replica"}' })
      expect(res.status).toBe(200)
      await replica.data.mirror.idle()
      expect(byTitle(cloud, 'post-shared')!.text).toBe('patched through the replica')
    } finally {
      await replica.close()
    }
  })

  it('at weight 100 (cloud primary) translates the other way: cloud ids in the request, legacy ids to legacy', async () => {
    for (const route of ['posts', 'post']) expect((await admin(gw!, `/routes/${route}`, { method: 'PATCH', body: { weight: 100 } })).status).toBe(200)
    try {
      const created = await json('POST', '/posts', { title: 'post-from-cloud', text: 'cloud first' })
      expect(created.status).toBe(201)
      expect(typeof created.value.id).toBe('string')
      const reply = await json('POST', '/posts', { title: 'reply-from-cloud', replyTo: created.value.id })
      expect((await json('PATCH', `/posts/${String(created.value.id)}`, { text: 'patched through cloud' })).status).toBe(200)
      await gw!.data.mirror.idle()
      const onLegacy = byTitle(legacy, 'post-from-cloud')!
      expect(typeof onLegacy.id).toBe('number')
      expect(onLegacy.text).toBe('patched through cloud')
      expect(byTitle(legacy, 'reply-from-cloud')!.replyTo).toBe(String(onLegacy.id))
      expect(reply.status).toBe(201)
      expect(await metric('cutover_mirror_total', { outcome: 'mismatch' })).toBe(0)
    } finally {
      for (const route of ['posts', 'post']) await admin(gw!, `/routes/${route}`, { method: 'PATCH', body: { weight: 0 } })
    }
  })

  it('a create the secondary missed keeps the primary id on cutover.replay; `cutover replay` pairs it', async () => {
    cloud.down = true
    const created = await json('POST', '/posts', { title: 'post-replayed', text: 'while cloud was down' })
    expect(created.status).toBe(201)
    await gw!.data.mirror.idle()
    await expect.poll(() => replayTopic.messages.length, { timeout: 15_000 }).toBe(1)
    expect(replayTopic.messages[0]!.value).toMatchObject({ route: 'posts', method: 'POST', primaryId: String(created.value.id) })
    cloud.down = false

    const lines: string[] = []
    const summary = await replay({ config: validateConfig(config(tempDir(), true)), dryRun: false, headers: {}, print: (l) => lines.push(l) })
    expect(summary).toMatchObject({ sent: 1, dead: 0, pending: 0 })
    const cloudId = byTitle(cloud, 'post-replayed')!.id
    await expect.poll(() => idTopic.messages.some((m) => m.value.legacy === String(created.value.id) && m.value.cloud === cloudId), { timeout: 15_000 }).toBe(true)

    // a gateway started afterwards translates the replayed create's id
    await gw!.close()
    gw = await gatewayFor(config(tempDir(), true))
    expect(gw.data.ids?.map.translate('posts', 'legacy', String(created.value.id))).toBe(cloudId)
    expect((await json('PATCH', `/posts/${String(created.value.id)}`, { text: 'replayed, then patched' })).status).toBe(200)
    await gw.data.mirror.idle()
    expect(byTitle(cloud, 'post-replayed')!.text).toBe('replayed, then patched')
  })
})
