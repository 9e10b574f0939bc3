/**
 * `npm run edge -- --server URL --token TOKEN [--intersections id1,id2] [--id NAME] [--hold-for 60] [--tick-ms 50]
 *                  [--no-jobs] [--compute-slowdown K] [--added-latency-ms MS] [--fallback actuated|fixed]
 *                  [--connect-timeout S]`
 *
 * An edge intersection controller as its own process: the same EdgeController and EdgeAgent the
 * service runs in-process for the demo. It reads the field's roadnet (to derive the safety
 * models and its local plans with the shared code), registers, long-polls its plans, checks each
 * again with the shared validator, runs the signal state machine on its own clock (at the field's
 * speed) and drives the intersection's heads over the field wire; heartbeats carry its SPaT.
 * When the centre is unreachable it holds the last central plan for `--hold-for` seconds, then
 * runs its local plan — actuated on its own detectors (the cabinet's inputs, which the field
 * wire answers with), or fixed-time with `--fallback fixed` — and returns to central plans at a
 * safe boundary. It is also an RTAS compute
 * node: it takes the plan jobs the centre places on it (unless `--no-jobs`). For the fault
 * evaluation, `--compute-slowdown K` repeats each computation K times and `--added-latency-ms MS`
 * delays every request and every answer of this process by MS. Logs go to stderr.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { safetyModels } from '../fieldSignals.ts';
import { actuatedPolicy } from '../policies/actuated.ts';
import { fixedTimePolicy } from '../policies/fixedTime.ts';
import { controlSites } from '../policies/sites.ts';
import { JobWorker } from './JobWorker.ts';
import { EdgeAgent } from './EdgeAgent.ts';
import { EdgeClock } from './EdgeClock.ts';
import { EdgeController, type EdgeSite } from './EdgeController.ts';
import { HeadWire } from './HeadWire.ts';
import { LocalDetectors } from './LocalDetectors.ts';

const ArgsSchema = z.object({
  server: z.url({ message: 'expected the service URL, e.g. http://127.0.0.1:8080' }).transform((u) => u.replace(/\/+$/, '')),
  /** Where the field's wire (heads, clock, roadnet) is, when not at the centre's address. */
  field: z.url({ message: 'expected the field wire URL' }).transform((u) => u.replace(/\/+$/, '')).optional(),
  token: z.string().min(1, 'a controller token is required (--token or EDGE_TOKEN)'),
  intersections: z
    .string()
    .regex(/^[^,\s]+(,[^,\s]+)*$/, 'expected intersection ids separated by commas')
    .transform((s) => s.split(','))
    .optional(),
  id: z.string().min(1).max(100).optional(),
  'hold-for': z.coerce.number().nonnegative().default(60),
  'tick-ms': z.coerce.number().int().min(5).max(1000).default(50),
  quiet: z.boolean().default(false),
  'no-jobs': z.boolean().default(false),
  'compute-slowdown': z.coerce.number().int().min(1).max(1000).default(1),
  'added-latency-ms': z.coerce.number().min(0).max(10_000).default(0),
  fallback: z.enum(['actuated', 'fixed']).default('actuated'),
  /** Seconds to keep trying to reach the field and the centre at start-up. */
  'connect-timeout': z.coerce.number().positive().max(86_400).default(60),
});
type Args = z.infer<typeof ArgsSchema>;

class CliError extends Error {}

const MeSchema = z.object({ name: z.string(), role: z.string(), intersections: z.array(z.string()) });
const ClockSchema = z.object({ time: z.number(), speed: z.number().positive() });

function parse(argv: string[]): Args {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        server: { type: 'string' },
        field: { type: 'string' },
        token: { type: 'string' },
        intersections: { type: 'string' },
        id: { type: 'string' },
        'hold-for': { type: 'string' },
        'tick-ms': { type: 'string' },
        quiet: { type: 'boolean' },
        'no-jobs': { type: 'boolean' },
        'compute-slowdown': { type: 'string' },
        'added-latency-ms': { type: 'string' },
        fallback: { type: 'string' },
        'connect-timeout': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const r = ArgsSchema.safeParse({ ...values, token: values.token ?? process.env.EDGE_TOKEN });
  if (!r.success) throw new CliError(r.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}

/** GET with the token; retries while the centre is not up yet (the edge may start first). */
async function getJson(server: string, path: string, token: string, deadline: number): Promise<unknown> {
  let delay = 250;
  for (;;) {
    try {
      // The roadnet is large and a busy service sends it slowly: time enough for the body too.
      const r = await fetch(server + path, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
      const text = await r.text();
      if (r.status === 401 || r.status === 403) throw new CliError(`${path}: the service refused the token (${r.status}): ${text.slice(0, 200)}`);
      if (!r.ok) throw new CliError(`${path}: ${r.status} ${text.slice(0, 200)}`);
      // An answer cut short is retried like an unreachable service, not taken as empty.
      return JSON.parse(text) as unknown;
    } catch (e) {
      if (e instanceof CliError) throw e;
      if (performance.now() > deadline) throw new CliError(`cannot reach ${server}: ${(e as Error).message}`);
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(2000, delay * 2);
    }
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const extra = args['added-latency-ms'];
  if (extra > 0) {
    // A slow link: every request and every answer of this node waits `extra` ms on the way.
    const direct = globalThis.fetch;
    const wait = () => new Promise((r) => setTimeout(r, extra));
    globalThis.fetch = async (input, init) => {
      await wait();
      const r = await direct(input, init);
      await wait();
      return r;
    };
  }
  const log = (line: string) => {
    if (!args.quiet) process.stderr.write(`edge: ${line}\n`);
  };
  const deadline = performance.now() + args['connect-timeout'] * 1000;
  const me = MeSchema.parse(await getJson(args.server, '/api/me', args.token, deadline));
  if (me.role !== 'controller' && me.role !== 'admin') throw new CliError(`the token belongs to ${me.name} (role ${me.role}): an edge needs a controller token`);
  const wanted = args.intersections ?? me.intersections;
  if (wanted.length === 0) throw new CliError(`no intersections: pass --intersections or use a controller token bound to some (${me.name} is bound to none)`);
  if (me.role === 'controller') {
    const foreign = wanted.filter((i) => !me.intersections.includes(i));
    if (foreign.length) throw new CliError(`--intersections: the token of ${me.name} is not bound to ${foreign.join(', ')}`);
  }

  const field = args.field ?? args.server;
  const net = importRoadnet(await getJson(field, '/api/field/roadnet', args.token, deadline), `${args.server}/api/field/roadnet`);
  const byId = new Map([...safetyModels(net).values()].map((s) => [s.id, s]));
  const unknown = wanted.filter((i) => !byId.has(i));
  if (unknown.length) throw new CliError(`--intersections: no signalised intersection ${unknown.map((u) => `"${u}"`).join(', ')} in the field`);
  const local = new Map(fixedTimePolicy(net).controllers.map((c) => [net.intersections[c.intersection].id, c.plan]));
  const actuated = new Map(args.fallback === 'actuated' ? actuatedPolicy(net).controllers.map((c) => [net.intersections[c.intersection].id, c]) : []);
  const sites: EdgeSite[] = wanted.map((id) => {
    // The local plan: actuated on the cabinet's detectors where the site allows one, else fixed-time.
    const act = actuated.get(id);
    if (act) return { safety: byId.get(id)!, fallback: act.plan, local: act };
    const fallback = local.get(id);
    if (!fallback) throw new CliError(`intersection ${id}: no safe local plan can be made from its program`);
    return { safety: byId.get(id)!, fallback };
  });

  const c0 = ClockSchema.parse(await getJson(field, '/api/field/clock', args.token, deadline));
  const clock = new EdgeClock(c0.time, c0.speed);
  const id = args.id ?? `edge-${wanted.join('+')}`.slice(0, 100);
  // Heartbeats come once a wall second: the centre counts as lost after three missed ones.
  const controller = new EdgeController(sites, clock.now(), { lostAfter: 3 * c0.speed, holdFor: args['hold-for'] });
  const wire = new HeadWire(field, args.token, id, clock);
  // Detector readings older than three wall seconds no longer actuate: the plan then runs on its own clock.
  const detectors = new LocalDetectors(net.lanes.length, net.movements.length, 3 * c0.speed);
  wire.onDetectors = (i, reading) => detectors.update(i, reading, clock.now());
  const agent = new EdgeAgent({
    server: args.server,
    token: args.token,
    id,
    controller,
    now: () => clock.now(),
    fieldNow: () => clock.fieldNow(),
    observe: (t) => detectors.observe(t),
    heads: (i, available, phase, at) => wire.set(i, available, phase, at),
    log,
    // Twice a second: the centre's RTAS counts a node failed after 1.2 s of silence.
    reportEveryMs: 500,
    // One line per control loop closed (the fault evaluation reads them), even when --quiet.
    onLoop: (i, v, ms, basis) => process.stderr.write(`edge: loop ${i} v${v} ${ms.toFixed(1)} ms basis ${basis} wall ${Date.now()}\n`),
  });

  const worker = args['no-jobs']
    ? null
    : new JobWorker({ server: args.server, token: args.token, node: id, sites: new Map(controlSites(net).sites.map((x) => [x.safety.id, x])), slowdown: args['compute-slowdown'], log });

  let fatal: Error | null = null;
  let mode = controller.mode;
  const timer = setInterval(() => {
    agent.tick();
    if (controller.mode !== mode) {
      log(`${id}: ${mode} → ${controller.mode} at t=${clock.now().toFixed(1)}`);
      mode = controller.mode;
    }
    wire.flush().catch((e: Error) => (fatal = e));
    if (fatal) stop(fatal);
  }, args['tick-ms']);
  const stop = (e?: Error) => {
    clearInterval(timer);
    agent.stop();
    worker?.stop();
    if (e) {
      process.stderr.write(`edge: ${e.message}\n`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => stop());
  process.on('SIGINT', () => stop());
  log(`${id}: running ${wanted.join(', ')} against ${args.server} (field speed ${c0.speed}×, hold ${args['hold-for']} s)`);
  agent
    .start()
    .then(() => worker?.start())
    .catch((e: Error) => stop(e));
}

main().catch((e: Error) => {
  process.stderr.write(`edge: ${e instanceof CliError ? e.message : (e.stack ?? e.message)}\n`);
  process.exit(e instanceof CliError ? 2 : 1);
});
