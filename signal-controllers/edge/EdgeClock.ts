/**
 * An edge process's clock. The signals run on a local monotonic clock that advances at the
 * field's speed (simulated seconds per wall second; 1 in a real city) and never steps back, so
 * the state machine's timings hold whatever happens to the network. Separately it keeps its best
 * estimate of the field's clock (from the answers of the field), used to stamp latencies: after
 * the centre restarts with a fresh clock the two differ and only the estimate follows.
 */
export class EdgeClock {
  private base: number;
  private wall0: number;
  private offset = 0;

  constructor(
    fieldTime: number,
    private speedNow: number,
    private readonly wall: () => number = () => performance.now(),
  ) {
    this.base = fieldTime;
    this.wall0 = wall();
  }

  get speed(): number {
    return this.speedNow;
  }

  /** The signals' clock (s). */
  now(): number {
    return this.base + (this.speedNow * (this.wall() - this.wall0)) / 1000;
  }

  /** The field's clock as best known (s). */
  fieldNow(): number {
    return this.now() + this.offset;
  }

  /**
   * The field answered `fieldTime` to a request sent at wall `sentAt` (ms): half the round trip
   * is charged to the way back. A field ahead of the local clock pulls it forward (a forward jump
   * only shortens nothing: the state machine checks elapsed times); a field behind it (a restart)
   * only moves the estimate.
   */
  sync(fieldTime: number, speed: number, sentAt: number): void {
    const t = this.wall();
    if (speed !== this.speedNow) {
      this.base = this.now();
      this.wall0 = t;
      this.speedNow = speed;
    }
    const field = fieldTime + (speed * (t - sentAt)) / 2000;
    const ahead = field - this.now();
    if (ahead > 0) {
      this.base += ahead;
      this.offset = 0;
    } else this.offset = ahead;
  }
}
