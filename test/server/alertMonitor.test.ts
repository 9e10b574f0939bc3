/**
 * The alert set from its sources: a whole sensor feed gone silent is one critical alert of its
 * own (single sensors are not blamed for it), and it clears when readings come back.
 */
import { describe, expect, it } from 'vitest';
import { AlertMonitor } from '../../server/AlertMonitor.ts';
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
});
