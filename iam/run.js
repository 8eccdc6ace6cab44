// Evaluates the policies of cloudformation/*.yaml with @cloud-copilot/iam-simulate over
// the matrix in cases.js, once per provider-stack variant (world.js). Prints one line
// per case whose decision is not the expected one (or that could not be evaluated),
// naming the variants it failed in, and exits 1 if there is any; a summary line goes
// to stderr either way.
//
//   node iam/run.js            (scripts/check-iam installs the pinned packages first)
//   node iam/run.js --list     also prints every case and its decision, per variant

import { casesFor } from './cases.js';
import { evaluate } from './evaluate.js';
import { buildWorld, VARIANTS } from './world.js';

const list = process.argv.includes('--list');
const started = process.hrtime.bigint();
let total = 0;
const failures = new Map(); // failure line → labels of the variants it occurred in

for (const variant of VARIANTS) {
  let world;
  try {
    world = buildWorld(variant);
  } catch (err) {
    fail(`the templates could not be resolved: ${err.message}`, variant.label);
    continue;
  }
  for (const c of casesFor(world)) {
    total += 1;
    const outcome = await evaluate(world, c);
    const line = describe(c);
    if (outcome.error) {
      fail(`${line}: not evaluated: ${outcome.error}`, variant.label);
    } else if (outcome.allowed !== (c.expect === 'allow')) {
      fail(`${line}: expected ${c.expect}, got ${outcome.result} (${c.why})`, variant.label);
    } else if (list) {
      console.log(`ok   [${variant.label}] ${line}: ${outcome.result} (${c.why})`);
    }
  }
}

for (const [line, labels] of failures) {
  const where = labels.length === VARIANTS.length ? 'every variant' : labels.join(' | ');
  console.log(`FAIL ${line} [${where}]`);
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.error(
  `iam: ${total} evaluations (${VARIANTS.length} provider-stack variants), ${failures.size} failing case(s) (${seconds.toFixed(1)} s)`,
);
process.exitCode = failures.size ? 1 : 0;

function fail(line, label) {
  if (!failures.has(line)) failures.set(line, []);
  failures.get(line).push(label);
}

function describe(c) {
  const context = Object.entries(c.context ?? {})
    .map(([k, v]) => `${k}=${v === null ? '(absent)' : JSON.stringify(v)}`)
    .join(' ');
  const owner = c.owner ? ` owned by ${c.owner}` : '';
  return `${c.group}: ${c.who} ${c.action} ${c.resource}${owner}${context ? ` {${context}}` : ''}`;
}
