import { PASS_ROUTE, type Scenario } from './types.ts'

/**
 * Service adaptation's cost: the `get` request (~1 KB JSON) through the same route with and
 * without a response transform on the serving backend. The transform holds the whole body, parses
 * it, runs four steps (wrap, rename in every item, move, drop) and serialises it again, which is
 * the work any body transform does (the smoke check reads `x-origin`, so headers stay); the answer the client gets is a different document, so the table
 * says what reshaping one answer costs next to streaming it.
 */
export const transformGet: Scenario = {
  name: 'transform',
  title: 'GET ~1 KB JSON (weight 0) with a 4-step response transform on legacy vs the same route without',
  request: { method: 'GET', path: '/api/orders/42' },
  targets: [
    { id: 'plain', kind: 'cutover', routes: [PASS_ROUTE] },
    {
      id: 'transformed',
      kind: 'cutover',
      routes: [
        {
          ...PASS_ROUTE,
          transform: {
            legacy: {
              response: {
                body: [{ wrap: 'order' }, { rename: 'order.items[*].sku', to: 'code' }, { move: 'order.customer.tier', to: 'tier' }, { drop: 'order.updatedAt' }],
              },
            },
          },
        },
      ],
    },
  ],
  compare: [['transformed', 'plain']],
}
