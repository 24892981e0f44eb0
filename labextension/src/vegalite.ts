/**
 * Whether a Vega-Lite chart from a request may be drawn. Vega compiles expressions to code and loads the
 * URLs a spec names, so a chart from an agent is drawn only when it holds inline data and nothing that
 * evaluates, loads or links; otherwise its fallback type is shown. The Python side has the same rule
 * (`jupyter_opensink.evidence.vegalite_problem`), both held to tests/fixtures/vegalite-cases.json.
 */

export const VEGALITE = 'application/vnd.vegalite.v5+json';

/** Keys that evaluate an expression or fetch something, wherever they appear. */
const ACTIVE_KEYS = new Set(['url', 'expr', 'calculate', 'signals', 'href', 'loader']);
/** Keys whose value is an expression when it is a string (a predicate object is inert). */
const PREDICATE_KEYS = new Set(['filter', 'test']);

/** Why `spec` may not be drawn (naming the first such place), or null for a chart of inline data only. */
export function vegaliteProblem(spec: unknown, path = ''): string | null {
  if (Array.isArray(spec)) {
    for (let index = 0; index < spec.length; index++) {
      const found = vegaliteProblem(spec[index], `${path}/${index}`);
      if (found) {
        return found;
      }
    }
  } else if (spec !== null && typeof spec === 'object') {
    for (const [key, value] of Object.entries(spec)) {
      const where = `${path}/${key}`;
      if (ACTIVE_KEYS.has(key) || key.endsWith('Expr')) {
        return `'${key}' at ${where}`;
      }
      if (PREDICATE_KEYS.has(key) && typeof value === 'string') {
        return `an expression at ${where}`;
      }
      const found = vegaliteProblem(value, where);
      if (found) {
        return found;
      }
    }
  }
  return null;
}

/** The bundle without a chart that may not be drawn (its other types stay, to show instead). */
export function withoutActiveChart<T extends { [mime: string]: unknown }>(data: T): T {
  if (!(VEGALITE in data) || vegaliteProblem(data[VEGALITE]) === null) {
    return data;
  }
  const rest = { ...data };
  delete rest[VEGALITE];
  return rest;
}
