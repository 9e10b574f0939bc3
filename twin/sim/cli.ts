/**
 * `npm run sim -- --roadnet FILE --flow FILE [--controller fixed] [--phases 1,2,3,4] [--observe truth|twin] [--duration 3600] [--seed 0] [--json]`
 * `npm run sim -- --grid 30x30 [...]`
 * `npm run sim -- --list-controllers`
 *
 * Runs the simulation on a CityFlow roadnet + flow pair, on a synthetic grid at a realistic
 * peak demand, or on the demo city when neither is given. `--observe twin` makes the controller read
 * the twin's estimate from simulated sensor messages instead of the field's truth. With --json, exactly one JSON object goes to stdout; progress and logs go to stderr.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { NetworkFormatError, importFlows, importRoadnet, loadCityFlow } from '../network/importCityFlow.ts';
import { demoCity, generateDemand, generateGrid, withRealisticPeak } from '../network/generator.ts';
import { runSimulation } from './runSimulation.ts';
import { CONTROLLERS, DEFAULT_CONTROLLER, controllerNames } from '../../signal-controllers/registry.ts';
import { PhaseSelectionError } from '../../signal-controllers/plans.ts';
import { ClearanceOverrideError } from '../../signal-controllers/clearance.ts';
import { OBSERVATION_SOURCES, observationSource } from '../../signal-controllers/observation.ts';

const ArgsSchema = z.object({
  roadnet: z.string().optional(),
  grid: z
    .string()
    .regex(/^\d+x\d+$/, 'expected ROWSxCOLS, e.g. 30x30')
    .optional(),
  flow: z.string().optional(),
  controller: z.string().default(DEFAULT_CONTROLLER),
  observe: z.enum(OBSERVATION_SOURCES).default('truth'),
  phases: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'expected phase indices, e.g. 1,2,3,4')
    .transform((s) => s.split(',').map(Number))
    .optional(),
  duration: z.coerce.number().positive().default(3600),
  seed: z.coerce.number().int().default(0),
  interval: z.coerce.number().positive().max(10).default(1),
  json: z.boolean().default(false),
  'list-controllers': z.boolean().default(false),
});

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n`);
  process.exit(2);
}

function progressBar(fraction: number, text: string): void {
  const width = 30;
  const full = Math.round(fraction * width);
  process.stderr.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${text}`);
}

function main(): void {
  let raw;
  try {
    raw = parseArgs({
      options: {
        roadnet: { type: 'string' },
        grid: { type: 'string' },
        flow: { type: 'string' },
        controller: { type: 'string' },
        observe: { type: 'string' },
        phases: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        interval: { type: 'string' },
        json: { type: 'boolean' },
        'list-controllers': { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  const parsed = ArgsSchema.safeParse(raw);
  if (!parsed.success) fail(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  const args = parsed.data;
  if (args['list-controllers']) {
    process.stdout.write(controllerNames().join('\n') + '\n');
    return;
  }
  const controller = CONTROLLERS[args.controller];
  if (!controller) fail(`unknown controller "${args.controller}"; known: ${controllerNames().join(', ')}`);
  if (args.flow && !args.roadnet) fail('--flow needs --roadnet');
  if (args.grid && args.roadnet) fail('give --roadnet or --grid, not both');

  let name: string;
  let loaded;
  try {
    if (args.roadnet) {
      loaded = loadCityFlow(args.roadnet, args.flow);
      name = args.roadnet;
    } else if (args.grid) {
      const [rows, cols] = args.grid.split('x').map(Number);
      const roadnet = generateGrid({ rows, cols });
      const network = importRoadnet(roadnet, `grid ${args.grid}`);
      const demand = withRealisticPeak(roadnet, { seed: args.seed, duration: Math.ceil(args.duration) });
      loaded = { network, flows: importFlows(generateDemand(roadnet, demand), network, `grid ${args.grid} flows`) };
      name = `grid ${args.grid}`;
    } else {
      const demo = demoCity(args.seed);
      const network = importRoadnet(demo.roadnet, `${demo.name} roadnet`);
      loaded = { network, flows: importFlows(demo.flows, network, `${demo.name} flows`) };
      name = demo.name;
    }
  } catch (e) {
    if (e instanceof NetworkFormatError) fail(e.message);
    throw e;
  }
  const { network, flows } = loaded;
  const tty = process.stderr.isTTY && !args.json;
  if (!args.json) process.stderr.write(`${name}: ${network.intersections.filter((i) => !i.virtual).length} signalised intersections, ${flows.length} flows, controller ${args.controller} on the ${args.observe === 'twin' ? "twin's estimate" : 'truth'}\n`);
  let ctl;
  try {
    ctl = controller.create(network, { phases: args.phases, observation: observationSource(args.observe) });
  } catch (e) {
    if (e instanceof PhaseSelectionError || e instanceof ClearanceOverrideError) fail(e.message);
    throw e;
  }
  const { summary } = runSimulation(network, flows, {
    duration: args.duration,
    seed: args.seed,
    interval: args.interval,
    signalMode: ctl.signalMode,
    beforeStep: ctl.beforeStep,
    afterStep: ctl.afterStep,
    onProgress: tty ? (f, e) => progressBar(f, `t=${e.time.toFixed(0)}s vehicles=${e.runningCount}`) : undefined,
  });
  const report = ctl.report();
  if (tty) process.stderr.write('\n');
  // The raw replay is kept for fidelity benchmarks only: say so whenever it shows unsafe states.
  if (args.controller === 'cityflow' && report.unsafeStates > 0)
    process.stderr.write(`sim: warning: controller cityflow replays the program without clearance: ${report.unsafeStates} unsafe signal states; use it for fidelity benchmarks only\n`);
  else for (const w of report.warnings.slice(0, 10)) process.stderr.write(`sim: warning: ${w}\n`);
  const out = {
    network: name,
    controller: args.controller,
    observe: args.observe,
    ...(args.phases ? { phases: args.phases } : {}),
    seed: args.seed,
    ...summary,
    peakMemoryMB: Math.round(process.resourceUsage().maxRSS / 1024),
    unsafeStates: report.unsafeStates,
    phaseSwitches: report.phaseSwitches,
  };
  if (args.json) process.stdout.write(JSON.stringify(out) + '\n');
  else {
    for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(24)} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v}\n`);
  }
}

main();
