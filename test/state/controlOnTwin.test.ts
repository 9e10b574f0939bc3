import { describe, expect, it } from 'vitest';
import { demoCity } from '../../twin/network/generator.ts';
import { importFlows, importRoadnet } from '../../twin/network/importCityFlow.ts';
import { runSimulation } from '../../twin/sim/runSimulation.ts';
import { sensedObservation, truthObservation, type ObservationSourceFactory } from '../../signal-controllers/observation.ts';
import { CONTROLLERS } from '../../signal-controllers/registry.ts';
import type { SensedObserver } from '../../twin/state/SensedObserver.ts';

const city = demoCity(0);
const net = importRoadnet(city.roadnet, 'demo');
const flows = importFlows(city.flows, net, 'demo flows');

function run(observation: ObservationSourceFactory) {
  const ctl = CONTROLLERS.maxpressure.create(net, { observation });
  const { summary } = runSimulation(net, flows, { duration: 600, signalMode: ctl.signalMode, beforeStep: ctl.beforeStep, afterStep: ctl.afterStep });
  return { att: summary.averageTravelTime, finished: summary.finished, report: ctl.report() };
}

describe('controllers on the twin (one switch)', () => {
  it("runs max-pressure on the twin's estimate close to the same control on the truth", () => {
    let sensed: SensedObserver | null = null;
    const truth = run(truthObservation);
    const twin = run(sensedObservation({}, (o) => (sensed = o)));
    expect(sensed).not.toBeNull();
    // The twin really was fed by sensor messages.
    expect((sensed as unknown as SensedObserver).field.produced).toBeGreaterThan(1000);
    expect(truth.report.unsafeStates).toBe(0);
    expect(twin.report.unsafeStates).toBe(0);
    expect(Math.abs(twin.att - truth.att) / truth.att).toBeLessThan(0.1);
    expect(twin.finished).toBeGreaterThan(0.9 * truth.finished);
  });

  it('controls blind when every message is lost: the switch does change what the controller sees', () => {
    const blind = run(sensedObservation({ field: { network: { dropRate: 1 } } }));
    const truth = run(truthObservation);
    expect(blind.report.unsafeStates).toBe(0);
    // With no data max-pressure cannot tell the phases apart and serves demand worse.
    expect(blind.att).toBeGreaterThan(truth.att * 1.02);
  });
});
