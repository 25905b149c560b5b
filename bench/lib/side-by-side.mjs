// Runs several tools on the same input in alternation, round after round, so that whatever else the machine is
// doing (other jobs on a shared 2-core box, a warm or cold cache) falls on all of them alike. Round r starts with
// a different tool (the order rotates), so no tool is always first or always runs right after the heaviest one.
//
// A contender is:
//   { name, label?,
//     prepare(run)  -> Promise<{ argv, env?, cwd? }>   untimed: fresh output dir, a private copy of the input...
//     verify(run, measured) -> Promise<{ ok, messages?, detail?, ...anything }>   untimed: check the output
//     cleanup(run)  -> Promise<void>                   untimed: delete outputs so the next run starts clean }
// `run` is { round, order, name }. Unavailable tools are filtered out by the caller.
import { loadavg } from 'node:os';
import { runMeasured } from './measure.mjs';

export function planRotations(names, rounds) {
  const plan = [];
  for (let round = 0; round < rounds; round++) {
    const offset = names.length ? round % names.length : 0;
    plan.push([...names.slice(offset), ...names.slice(0, offset)]);
  }
  return plan;
}

/** Returns every run's record, in execution order; `onRun(record)` is called after each. */
export async function runSideBySide({ contenders, rounds, timeoutMs, onRun = () => {} }) {
  const byName = new Map(contenders.map((c) => [c.name, c]));
  const records = [];
  const plan = planRotations(contenders.map((c) => c.name), rounds);
  for (const [roundIndex, order] of plan.entries()) {
    for (const [orderIndex, name] of order.entries()) {
      const contender = byName.get(name);
      const run = { round: roundIndex + 1, order: orderIndex + 1, name };
      const record = { tool: name, round: run.round, order: run.order, loadAverage1m: loadavg()[0] };
      try {
        const spec = await contender.prepare(run);
        const measured = await runMeasured(spec.argv, { cwd: spec.cwd, env: spec.env, timeoutMs });
        Object.assign(record, measured);
        record.verification = await contender.verify(run, measured);
      } catch (error) {
        record.harnessError = error instanceof Error ? error.message : String(error);
        record.verification = { ok: false, detail: `harness error: ${record.harnessError}` };
      } finally {
        try {
          await contender.cleanup(run);
        } catch (error) {
          record.cleanupError = error instanceof Error ? error.message : String(error);
        }
      }
      records.push(record);
      onRun(record);
    }
  }
  return records;
}
