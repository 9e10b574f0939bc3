/**
 * Mersenne Twister (mt19937), the generator CityFlow draws from (`std::mt19937`). We use it
 * everywhere a seeded stream is needed so that runs are reproducible and, for the simulation,
 * draw-for-draw identical to CityFlow's where that matters (priorities, first-lane picks).
 */
export class Mt19937 {
  private readonly mt = new Uint32Array(624);
  private index = 625;

  constructor(seed = 5489) {
    this.seed(seed);
  }

  seed(seed: number): void {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      // 1812433253 * prev + i, in 32-bit arithmetic without losing the low bits.
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.index = 624;
  }

  /** Next 32-bit unsigned draw. */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= 624) {
      for (let i = 0; i < 624; i++) {
        const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
        let v = mt[(i + 397) % 624] ^ (y >>> 1);
        if (y & 1) v ^= 0x9908b0df;
        mt[i] = v >>> 0;
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Next draw reinterpreted as a signed 32-bit integer. */
  nextInt32(): number {
    return this.nextUint32() | 0;
  }

  /** Uniform double in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /** Standard normal draw (Box–Muller). */
  nextGaussian(): number {
    let u = 0;
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Full generator state, for snapshots. */
  getState(): { mt: number[]; index: number } {
    return { mt: Array.from(this.mt), index: this.index };
  }

  setState(state: { mt: number[]; index: number }): void {
    this.mt.set(state.mt);
    this.index = state.index;
  }
}
