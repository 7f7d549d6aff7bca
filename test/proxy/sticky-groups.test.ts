import { beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../src/gateway.ts'
import { admin, call } from '../support/gateway.ts'
import { withGateway } from '../support/setup.ts'

let gw: Gateway

const sticky = { header: 'x-user-id' }
const USERS = Array.from({ length: 80 }, (_, i) => `user-${i}`)
const PATHS = { posts: '/posts', 'post-read': '/posts/7', comments: '/comments/3', isolated: '/isolated' } as const

beforeAll(async () => {
  ;({ gw } = await withGateway({
    config: {
      routes: [
        { id: 'posts', methods: ['GET', 'POST'], path: '/posts', weight: 50, sticky, mirror: 'off' },
        { id: 'post-read', methods: ['GET'], path: '/posts/:id', weight: 50, sticky, mirror: 'off' },
        { id: 'comments', methods: ['GET'], path: '/comments/:id', weight: 50, sticky, mirror: 'off' },
        { id: 'isolated', methods: ['GET'], path: '/isolated', weight: 50, sticky, stickyGroup: 'isolated', mirror: 'off' },
      ],
    },
  }))
})

/** Which side served each user on one route. */
async function sides(route: keyof typeof PATHS): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const user of USERS) {
    const res = await call(gw.dataUrl + PATHS[route], { headers: { 'x-user-id': user } })
    expect(res.status).toBe(200)
    out.set(user, res.headers['x-cutover-backend'] as string)
  }
  return out
}

describe('sticky buckets across routes', () => {
  it('keeps one key on one side across three routes at equal weights', async () => {
    const [posts, read, comments] = [await sides('posts'), await sides('post-read'), await sides('comments')]
    for (const user of USERS) {
      expect(read.get(user), user).toBe(posts.get(user))
      expect(comments.get(user), user).toBe(posts.get(user))
    }
    // both sides are in use at weight 50, so the agreement is not trivial
    const onCloud = [...posts.values()].filter((s) => s === 'cloud').length
    expect(onCloud).toBeGreaterThan(20)
    expect(onCloud).toBeLessThan(60)
  })

  it('raising one route’s weight moves only new buckets, on that route only', async () => {
    const before = await sides('posts')
    const readBefore = await sides('post-read')
    expect((await admin(gw, '/routes/posts', { method: 'PATCH', body: { weight: 80 } })).status).toBe(200)
    const after = await sides('posts')
    let moved = 0
    for (const user of USERS) {
      if (before.get(user) === 'cloud') expect(after.get(user), `${user} left cloud`).toBe('cloud')
      else if (after.get(user) === 'cloud') moved++
    }
    expect(moved).toBeGreaterThan(0)
    expect(await sides('post-read')).toEqual(readBefore)
    await admin(gw, '/routes/posts', { method: 'PATCH', body: { weight: 50 } })
  })

  it('a route with its own stickyGroup has buckets of its own', async () => {
    const [posts, isolated] = [await sides('posts'), await sides('isolated')]
    const differ = USERS.filter((u) => posts.get(u) !== isolated.get(u)).length
    // independent buckets at 50/50 disagree for about half the users
    expect(differ).toBeGreaterThan(15)
  })
})
