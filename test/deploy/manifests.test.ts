import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, type IConfigMap, type ISecret, Secret, Service, type IService } from 'kubernetes-models/v1'
import type { IContainer } from 'kubernetes-models/v1/Container'
import { ServiceMonitor, type IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import { applyEnv } from '../../src/config/load.ts'
import { validateConfig } from '../../src/config/validate.ts'
import { checkAdminExposure } from '../../src/gateway.ts'
import { readYamlDocs, render, strategicMerge, type Resource } from './kustomize.ts'

// The manifests are checked offline: each rendered resource against the Kubernetes (and
// Prometheus Operator) JSON schemas that the kubernetes-models packages ship, then the
// invariants below that a schema cannot know.
const ROOT = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url))
const TREES = { base: join(ROOT, 'base'), staging: join(ROOT, 'overlays/staging'), production: join(ROOT, 'overlays/production') }
const WORKDIR = '/app' // the image's WORKDIR: relative config paths resolve against it

// apiVersion/kind → the model whose validate() runs the schema
const MODELS: Record<string, (r: Resource) => { validate(): void }> = {
  'apps/v1/Deployment': (r) => new Deployment(r as unknown as IDeployment),
  'v1/Service': (r) => new Service(r as unknown as IService),
  'v1/ConfigMap': (r) => new ConfigMap(r as unknown as IConfigMap),
  'v1/Secret': (r) => new Secret(r as unknown as ISecret),
  'policy/v1/PodDisruptionBudget': (r) => new PodDisruptionBudget(r as unknown as IPodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': (r) => new HorizontalPodAutoscaler(r as unknown as IHorizontalPodAutoscaler),
  'networking.k8s.io/v1/NetworkPolicy': (r) => new NetworkPolicy(r as unknown as INetworkPolicy),
  'monitoring.coreos.com/v1/ServiceMonitor': (r) => new ServiceMonitor(r as unknown as IServiceMonitor),
}

function one<T>(rs: Resource[], kind: string, name: string): T {
  const hits = rs.filter((r) => r.kind === kind && r.metadata.name === name)
  expect(hits, `${kind}/${name}`).toHaveLength(1)
  return hits[0] as unknown as T
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v)
}

/** Kubernetes quantities used here: `500m`, `1`, `256Mi`, `1Gi`. */
function quantity(q: string | number): number {
  const s = String(q)
  const m = /^([0-9.]+)(m|Ki|Mi|Gi)?$/.exec(s)
  if (m === null) throw new Error(`unsupported quantity ${s}`)
  const n = Number(m[1])
  const unit = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ''] ?? 1
  return n * unit
}

const SECRET_EXAMPLE = readYamlDocs(join(TREES.base, 'secret.example.yaml'))[0] as unknown as ISecret

describe('the kustomize renderer', () => {
  it('merges lists of named items by name and replaces everything else', () => {
    const merged = strategicMerge(
      { spec: { replicas: 3, containers: [{ name: 'a', image: 'x', args: ['1'] }, { name: 'b' }] } },
      { spec: { replicas: 6, containers: [{ name: 'a', args: ['2'] }] } },
    )
    expect(merged).toEqual({ spec: { replicas: 6, containers: [{ name: 'a', image: 'x', args: ['2'] }, { name: 'b' }] } })
  })
})

describe.each(Object.entries(TREES))('deploy/kubernetes %s', (tree, dir) => {
  const rs = render(dir)
  const deployment = one<IDeployment>(rs, 'Deployment', 'cutover')
  const pod = deployment.spec!.template
  const container = pod.spec!.containers.find((c) => c.name === 'cutover') as IContainer
  const cm = one<IConfigMap>(rs, 'ConfigMap', 'cutover-config')
  const data = one<IService>(rs, 'Service', 'cutover')
  const admin = one<IService>(rs, 'Service', 'cutover-admin')
  const token = 'k8s-test-token-0123456789abcdef'
  const raw = JSON.parse(cm.data!['routes.config.json'] as string) as unknown
  const config = validateConfig(applyEnv(raw, { CUTOVER_ADMIN_TOKEN: token }))
  const port = (name: string): number => container.ports!.find((p) => p.name === name)!.containerPort

  it('every resource passes its Kubernetes / Prometheus Operator schema', () => {
    expect(rs.map((r) => r.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceMonitor'],
    )
    for (const r of rs) {
      const model = MODELS[`${r.apiVersion}/${r.kind}`]
      expect(model, `${r.apiVersion} ${r.kind}`).toBeDefined()
      expect(() => model!(r).validate(), `${r.kind}/${r.metadata.name}`).not.toThrow()
    }
    expect(() => MODELS['v1/Secret']!(SECRET_EXAMPLE as unknown as Resource).validate()).not.toThrow()
    if (tree !== 'base') for (const r of rs) expect(r.metadata.namespace, `${r.kind}/${r.metadata.name}`).toBe(`cutover-${tree}`)
  })

  it("the ConfigMap's routes.config.json passes the gateway's own validateConfig and is the file the pod starts with", () => {
    expect(config.listen.port).toBe(port('http'))
    expect(config.admin.port).toBe(port('admin'))
    // Probes and Prometheus reach the pod IP: the admin API must not be on loopback …
    expect(config.admin.host).toBe('0.0.0.0')
    // … which the gateway only allows with a token, and the token comes from the Secret.
    expect(() => checkAdminExposure(config)).not.toThrow()
    expect(() => checkAdminExposure(validateConfig(applyEnv(raw, {})))).toThrow(/admin\.token/)
    const ref = container.env!.find((e) => e.name === 'CUTOVER_ADMIN_TOKEN')!.valueFrom!.secretKeyRef!
    expect(ref.name).toBe(SECRET_EXAMPLE.metadata!.name)
    expect(Object.keys(SECRET_EXAMPLE.stringData!)).toEqual([ref.key])
    expect(() => validateConfig(applyEnv(raw, { CUTOVER_ADMIN_TOKEN: SECRET_EXAMPLE.stringData![ref.key] }))).not.toThrow()

    const args = container.args!
    const file = args[args.indexOf('--config') + 1] as string
    const mount = container.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!
    const volume = pod.spec!.volumes!.find((v) => v.name === mount.name)!
    expect(volume.configMap?.name).toBe(cm.metadata!.name)
    expect(Object.keys(cm.data!)).toContain(posix.basename(file))
    expect(args[0]).toBe('start')
  })

  it('probes point at /readyz and /healthz on the admin port', () => {
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      expect(probe?.httpGet?.port).toBe('admin')
    }
    expect(container.readinessProbe!.httpGet!.path).toBe('/readyz')
    expect(container.livenessProbe!.httpGet!.path).toBe('/healthz')
    expect(container.startupProbe!.httpGet!.path).toBe('/healthz')
  })

  it('the grace period outlasts preStop + shutdown.drainTimeoutMs + closing', () => {
    const [cmd, seconds] = container.lifecycle!.preStop!.exec!.command!
    expect(cmd).toBe('sleep')
    const preStop = Number(seconds)
    expect(preStop).toBeGreaterThan(0)
    // docs/operations.md: shutdown takes at most drainTimeoutMs plus about 0.5 s; keep 5 s spare.
    const needed = preStop + config.shutdown.drainTimeoutMs / 1000 + 0.5 + 5
    expect(pod.spec!.terminationGracePeriodSeconds!).toBeGreaterThanOrEqual(needed)
  })

  it('runs as non-root on a read-only root, with every path the gateway writes on a writable volume', () => {
    expect(pod.spec!.securityContext!.runAsNonRoot).toBe(true)
    expect(container.securityContext!.readOnlyRootFilesystem).toBe(true)
    expect(container.securityContext!.allowPrivilegeEscalation).toBe(false)
    expect(container.securityContext!.capabilities!.drop).toEqual(['ALL'])
    const writable = container.volumeMounts!
      .filter((m) => m.readOnly !== true && pod.spec!.volumes!.find((v) => v.name === m.name)?.emptyDir !== undefined)
      .map((m) => m.mountPath)
    const stateFile = posix.resolve(WORKDIR, config.state.file)
    const written = [
      stateFile,
      posix.resolve(WORKDIR, config.ids.dir ?? posix.join(posix.dirname(config.state.file), 'ids')),
      posix.resolve(WORKDIR, config.spool.dir),
      posix.resolve(WORKDIR, config.spool.dir, 'w0/journal'),
      `${stateFile}.tmp`, // the atomic rename's temp file, next to it
    ]
    for (const path of written) expect(writable.some((w) => path.startsWith(`${w}/`)), path).toBe(true)
  })

  it('every container has CPU and memory requests and limits, requests ≤ limits', () => {
    for (const c of [...pod.spec!.containers, ...(pod.spec!.initContainers ?? [])]) {
      for (const r of ['cpu', 'memory'] as const) {
        const req = c.resources?.requests?.[r]
        const lim = c.resources?.limits?.[r]
        expect(req, `${c.name} ${r} request`).toBeDefined()
        expect(lim, `${c.name} ${r} limit`).toBeDefined()
        expect(quantity(req!)).toBeLessThanOrEqual(quantity(lim!))
      }
    }
  })

  it('the admin port stays internal: its own ClusterIP Service, off the data Service, NetworkPolicy-guarded', () => {
    const podLabels = pod.metadata!.labels
    expect(matches(deployment.spec!.selector.matchLabels, podLabels)).toBe(true)
    for (const s of [data, admin]) expect(matches(s.spec!.selector, podLabels)).toBe(true)
    expect(admin.spec!.type).toBe('ClusterIP')
    expect(admin.spec!.ports!.map((p) => p.targetPort)).toEqual(['admin'])
    expect(data.spec!.ports!.map((p) => p.targetPort)).toEqual(['http'])
    for (const s of rs.filter((r) => r.kind === 'Service') as unknown as IService[]) {
      const exposesAdmin = s.spec!.ports!.some((p) => p.targetPort === 'admin' || p.targetPort === port('admin'))
      if (exposesAdmin) expect(s.spec!.type ?? 'ClusterIP', s.metadata!.name).toBe('ClusterIP')
    }

    const np = one<INetworkPolicy>(rs, 'NetworkPolicy', 'cutover')
    expect(matches(np.spec!.podSelector!.matchLabels, podLabels)).toBe(true)
    expect(np.spec!.policyTypes).toContain('Ingress')
    const rules = np.spec!.ingress!
    // a rule without ports opens every port: there must be none
    expect(rules.every((r) => (r.ports ?? []).length > 0)).toBe(true)
    const adminRules = rules.filter((r) => r.ports!.some((p) => p.port === 'admin' || p.port === port('admin')))
    expect(adminRules.length).toBeGreaterThan(0)
    for (const r of adminRules) {
      expect(r.from?.length).toBeGreaterThan(0)
      for (const peer of r.from!) {
        expect(peer.ipBlock).toBeUndefined()
        expect(peer.podSelector?.matchLabels?.['cutover.io/admin-access']).toBe('true')
      }
    }
    // the data port is open
    expect(rules.some((r) => r.from === undefined && r.ports!.some((p) => p.port === 'http'))).toBe(true)
  })

  it('the ServiceMonitor scrapes /metrics on the admin Service with the token from the Secret', () => {
    const sm = one<IServiceMonitor>(rs, 'ServiceMonitor', 'cutover')
    expect(matches(sm.spec.selector.matchLabels, admin.metadata!.labels)).toBe(true)
    expect(matches(sm.spec.selector.matchLabels, data.metadata!.labels)).toBe(false)
    const ep = sm.spec.endpoints![0]!
    expect(ep.port).toBe(admin.spec!.ports![0]!.name)
    expect(ep.path).toBe('/metrics')
    const ref = container.env!.find((e) => e.name === 'CUTOVER_ADMIN_TOKEN')!.valueFrom!.secretKeyRef!
    expect(ep.authorization?.type).toBe('Bearer')
    expect(ep.authorization?.credentials).toEqual({ name: ref.name, key: ref.key })
  })

  it('replicas, autoscaler and disruption budget agree', () => {
    const hpa = one<IHorizontalPodAutoscaler>(rs, 'HorizontalPodAutoscaler', 'cutover')
    const pdb = one<IPodDisruptionBudget>(rs, 'PodDisruptionBudget', 'cutover')
    const replicas = deployment.spec!.replicas!
    expect({ kind: hpa.spec!.scaleTargetRef.kind, name: hpa.spec!.scaleTargetRef.name }).toEqual({ kind: 'Deployment', name: 'cutover' })
    expect(hpa.spec!.minReplicas!).toBeLessThanOrEqual(replicas)
    expect(hpa.spec!.maxReplicas).toBeGreaterThanOrEqual(replicas)
    expect(hpa.spec!.metrics!.map((m) => m.resource?.name)).toEqual(['cpu'])
    expect(matches(pdb.spec!.selector!.matchLabels, pod.metadata!.labels)).toBe(true)
    expect(Number(pdb.spec!.maxUnavailable)).toBeLessThan(hpa.spec!.minReplicas!)
    expect(replicas).toBe({ base: 3, staging: 2, production: 6 }[tree])
  })
})
