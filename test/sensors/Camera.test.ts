import { describe, expect, it } from 'vitest';
import { Engine, WAITING_SPEED } from '../../twin/sim/Engine.ts';
import { CameraBank } from '../../twin/sensors/Camera.ts';
import { buildSensorLayout } from '../../twin/sensors/SensorLayout.ts';
import { smallGrid } from './scenario.ts';

function run(seconds: number, degradation = {}) {
  const g = smallGrid({ duration: seconds });
  const engine = new Engine(g.net, g.flows, { seed: 3 });
  const layout = buildSensorLayout(g.net);
  const bank = new CameraBank(engine, layout.cameras, { frameSteps: 1, degradation, seed: 2 });
  return { g, engine, layout, bank };
}

describe('CameraBank', () => {
  it('without degradation sees exactly the vehicles in view, the standing ones, the classes, and every stop-line crossing by movement', () => {
    const { g, engine, layout, bank } = run(600);
    const nL = engine.nLanes;
    const trueMov = new Float64Array(g.net.movements.length);
    const trueLane = new Float64Array(nL);
    const linkMovement = g.net.laneLinks.map((k) => k.movement);
    let checked = 0;
    for (let s = 0; s < 600; s++) {
      engine.step();
      engine.forEachMove((_slot, from, _to, via) => {
        if (from < nL && via >= nL && layout.laneCamera[from] >= 0) {
          trueMov[linkMovement[via - nL]]++;
          trueLane[from]++;
        }
      });
      expect(bank.observe()).toBe(true);
      if (s % 20 !== 0) continue;
      for (const cam of layout.cameras) {
        let classes = 0;
        for (const l of cam.lanes) {
          const start = g.net.lanes[l].length - cam.view;
          let n = 0;
          let q = 0;
          engine.forEachOn(l, (_v, dis, speed) => {
            if (dis >= start) {
              n++;
              if (speed < WAITING_SPEED) q++;
            }
          });
          expect(bank.inView[l]).toBe(n);
          expect(bank.queue[l]).toBe(q);
          classes += n;
          checked += n;
        }
        const k = cam.index * 4;
        expect(bank.classes[k] + bank.classes[k + 1] + bank.classes[k + 2] + bank.classes[k + 3]).toBe(classes);
      }
    }
    expect(checked).toBeGreaterThan(100);
    for (const cam of layout.cameras) {
      for (const m of cam.movements) expect(bank.movementTotal[m]).toBe(trueMov[m]);
      for (const l of cam.lanes) expect(bank.departuresTotal[l]).toBe(trueLane[l]);
    }
  });

  it('misses more vehicles the denser the scene (occlusion), and stop-line crossings less often', () => {
    const clean = run(900);
    const occluded = run(900, { baseMiss: 0, occlusion: 0.5, lineFactor: 0.25 });
    let seenClean = 0;
    let seenOccl = 0;
    let denseClean = 0;
    let denseOccl = 0;
    for (let s = 0; s < 900; s++) {
      clean.engine.step();
      occluded.engine.step();
      clean.bank.observe();
      occluded.bank.observe();
      for (let l = 0; l < clean.engine.nLanes; l++) {
        seenClean += clean.bank.inView[l];
        seenOccl += occluded.bank.inView[l];
        if (clean.bank.inView[l] >= 6) {
          denseClean += clean.bank.inView[l];
          denseOccl += occluded.bank.inView[l];
        }
      }
    }
    const overall = seenOccl / seenClean;
    const dense = denseOccl / denseClean;
    expect(overall).toBeLessThan(1);
    expect(dense).toBeLessThan(overall);
    const dep = (b: CameraBank) => b.departuresTotal.reduce((a, x) => a + x, 0);
    const lineShare = dep(occluded.bank) / dep(clean.bank);
    expect(lineShare).toBeLessThan(1);
    expect(lineShare).toBeGreaterThan(overall);
  });
});
