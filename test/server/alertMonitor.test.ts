/**
 * The alert set from its sources: a whole sensor feed gone silent is one critical alert of its
 * own (single sensors are not blamed for it), and it clears when readings come back. A
 * controller on its local plan is an alert when the centre is lost (fallback), or when central
 * plans are expected and none has come for too long; not while the first ones are awaited.
 */
import { describe, expect, it } from 'vitest';
import { AlertMonitor } from '../../server/AlertMonitor.ts';
import type { ControllerInfo } from '../../server/ControllerRegistry.ts';
import { importRoadnet } from '../../twin/network/importCityFlow.ts';
import { buildSensorLayout } from '../../twin/sensors/SensorLayout.ts';
import type { SensorFlag } from '../../twin/state/TwinContext.ts';
import { crossingRoadnet } from '../fixtures/networks.ts';

const net = importRoadnet(crossingRoadnet(300));
const layout = buildSensorLayout(net);

describe('AlertMonitor', () => {
  it('raises one sensor-feed alert while no sensor reports, and drops it when the feed is back', () => {
    let silent = 0;
    const flags: SensorFlag[] = [];
    const monitor = new AlertMonitor(net, layout, { sensorFlags: () => flags, laneQueue: () => null, controllers: () => [], feedSilentSeconds: () => silent });
    monitor.update(10);
    expect(monitor.state().alerts).toEqual([]);

    silent = 45;
    monitor.update(55);
    const during = monitor.state();
    expect(during.alerts.map((a) => [a.kind, a.severity])).toEqual([['sensor-feed', 'critical']]);
    expect(during.alerts[0].message).toContain('45 s');
    expect(during.alerts[0].since).toBe(55);

    silent = 0.5;
    monitor.update(70);
    expect(monitor.state().alerts).toEqual([]);
    expect(monitor.state().version).toBeGreaterThan(during.version);
  });

  it('keeps a single faulty sensor as its own warning beside a healthy feed', () => {
    const d = layout.detectors[0];
    const flags: SensorFlag[] = [{ sensorId: d.id, kind: 'loop', index: d.index, reason: 'silent', detail: 'no reading for 60 s', at: 100, since: 40 }];
    const monitor = new AlertMonitor(net, layout, { sensorFlags: () => flags, laneQueue: () => null, controllers: () => [], feedSilentSeconds: () => 1 });
    monitor.update(100);
    const alerts = monitor.state().alerts;
    expect(alerts.map((a) => a.kind)).toEqual(['sensor-fault']);
    expect(alerts[0].place.lane).toBe(net.lanes[d.lane].id);
  });

  it('alerts on a controller left without a central plan past the expected time, not during it, and never with the planner off', () => {
    const intersection = net.intersections.find((i) => !i.virtual)!.id;
    let mode: 'local' | 'central' | 'fallback' = 'local';
    const controllers = (): ControllerInfo[] => [
      { id: 'edge-1', intersections: [intersection], online: true, lastHeartbeatMs: 0, state: { mode, intersections: [{ intersection, phase: 0, interval: 'green', movements: 'G', timeToChange: 5, planVersion: null }] } },
    ];
    const sources = { sensorFlags: () => [], laneQueue: () => null, controllers };
    const planned = new AlertMonitor(net, layout, { ...sources, centralPlanExpectedWithin: 660 });
    const unplanned = new AlertMonitor(net, layout, sources);
    const kinds = (m: AlertMonitor, t: number) => {
      m.update(t);
      return m.state().alerts.map((a) => a.kind);
    };
    // Local from t = 10 (the monitor's first sight of it).
    for (const t of [10, 300, 670]) expect([kinds(planned, t), kinds(unplanned, t)]).toEqual([[], []]);
    expect(kinds(planned, 671)).toEqual(['controller-no-plan']);
    expect(planned.state().alerts[0]).toMatchObject({ severity: 'warning', since: 671, place: { intersection } });
    expect(planned.state().alerts[0].message).toContain('no central plan for 11 min');
    expect(kinds(unplanned, 5000)).toEqual([]);
    // A plan arrives: cleared; the centre lost later: the fallback alert, as before.
    mode = 'central';
    expect(kinds(planned, 700)).toEqual([]);
    mode = 'fallback';
    expect(kinds(planned, 800)).toEqual(['controller-fallback']);
    expect(kinds(unplanned, 800)).toEqual(['controller-fallback']);
    // Back to local (the centre answers, its plans gone): the wait starts again.
    mode = 'local';
    expect(kinds(planned, 900)).toEqual([]);
    expect(kinds(planned, 1561)).toEqual(['controller-no-plan']);
  });
});
