/**
 * Group commit: items submitted while a write is under way wait, and are then written together
 * by one call of `write` (one statement, one commit), so many concurrent small writers share a
 * commit instead of queueing one statement each. `submit` resolves once the write holding its
 * items has committed and rejects if that write failed; nothing is acknowledged before then.
 */
export class GroupCommit<T> {
  private readonly waiting: { items: T[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    /** Items per write at most (a submission larger than this is written alone). */
    private readonly maxItems: number,
  ) {}

  submit(items: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.waiting.length > 0) {
      const group: typeof this.waiting = [];
      let n = 0;
      while (this.waiting.length > 0 && (n === 0 || n + this.waiting[0].items.length <= this.maxItems)) {
        const w = this.waiting.shift()!;
        group.push(w);
        n += w.items.length;
      }
      try {
        await this.write(group.length === 1 ? group[0].items : group.flatMap((g) => g.items));
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e);
      }
    }
    this.writing = false;
  }
}
