/**
 * A min-heap of (key, node) pairs in typed arrays, for the route searches: no objects per push,
 * grows by doubling. Decrease-key is done by pushing again (callers skip stale pops), which is
 * simpler and, for road graphs of low degree, faster than keeping a position index.
 */
export class BinaryHeap {
  private keys: Float64Array;
  private nodes: Int32Array;
  size = 0;

  constructor(capacity = 1024) {
    this.keys = new Float64Array(capacity);
    this.nodes = new Int32Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  push(key: number, node: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      const n = new Int32Array(this.size * 2);
      n.set(this.nodes);
      this.keys = k;
      this.nodes = n;
    }
    const keys = this.keys;
    const nodes = this.nodes;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p] <= key) break;
      keys[i] = keys[p];
      nodes[i] = nodes[p];
      i = p;
    }
    keys[i] = key;
    nodes[i] = node;
  }

  /** Key of the minimum (Infinity when empty). */
  peekKey(): number {
    return this.size > 0 ? this.keys[0] : Infinity;
  }

  /** Node of the minimum (-1 when empty). */
  peekNode(): number {
    return this.size > 0 ? this.nodes[0] : -1;
  }

  /** Removes the minimum and returns its node (-1 when empty); its key was peekKey(). */
  pop(): number {
    if (this.size === 0) return -1;
    const keys = this.keys;
    const nodes = this.nodes;
    const top = nodes[0];
    const n = --this.size;
    if (n > 0) {
      const key = keys[n];
      const node = nodes[n];
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && keys[c + 1] < keys[c]) c++;
        if (keys[c] >= key) break;
        keys[i] = keys[c];
        nodes[i] = nodes[c];
        i = c;
      }
      keys[i] = key;
      nodes[i] = node;
    }
    return top;
  }
}
