// The inbox's rule for drawing a request's Vega-Lite chart (lib/vegalite.js, compiled from src/vegalite.ts),
// held to the Python rule by the shared case table tests/fixtures/vegalite-cases.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { VEGALITE, vegaliteProblem, withoutActiveChart } from '../lib/vegalite.js';

const CASES = JSON.parse(readFileSync(new URL('../../tests/fixtures/vegalite-cases.json', import.meta.url))).cases;

for (const c of CASES) {
  test(`vegalite case: ${c.name}`, () => {
    const problem = vegaliteProblem(c.spec);
    if (c.problem === null) {
      assert.equal(problem, null);
    } else {
      assert.ok(problem && problem.includes(c.problem), `${problem} should name ${c.problem}`);
    }
  });
}

test('a chart that may not be drawn leaves its fallback types in the bundle', () => {
  const unsafe = CASES.find(c => c.problem !== null).spec;
  const safe = CASES.find(c => c.problem === null).spec;
  assert.deepEqual(withoutActiveChart({ [VEGALITE]: unsafe, 'text/plain': 'a chart' }), { 'text/plain': 'a chart' });
  const kept = { [VEGALITE]: safe, 'image/png': 'iVBORw0KGgo=' };
  assert.equal(withoutActiveChart(kept), kept);
});
