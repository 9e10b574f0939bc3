/**
 * An edge controller's HTTP link to the centre: its own small connection pool (undici `Pool`)
 * and undici's `request` rather than `fetch`. Why not the global `fetch`: a demo city runs a
 * fleet of edge agents in one process, and through the shared global dispatcher they all land in
 * one pool holding thousands of connections (every agent keeps two long-polls open per
 * intersection), which that pool scans on every request; a 900-intersection grid spent most of
 * its CPU there and stopped answering. A roadside controller needs a handful of connections of
 * its own, which is also what it has in the field.
 */
import { Pool } from 'undici';

export interface CentreResponse {
  status: number;
  header(name: string): string | undefined;
  json(): Promise<unknown>;
  text(): Promise<string>;
  /** Reads and discards the body (frees the connection). */
  discard(): Promise<void>;
}

export interface CentreRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Until the whole answer has arrived (ms): a long-poll's wait plus slack. */
  timeoutMs: number;
}

export class CentreClient {
  private readonly pool: Pool;
  private closed = false;

  constructor(
    server: string,
    private readonly token: string,
    /** Connections to the centre at most: one per request in flight at once (long-polls hold one each). */
    connections: number,
  ) {
    this.pool = new Pool(server, { connections, pipelining: 1 });
  }

  async request(path: string, r: CentreRequest): Promise<CentreResponse> {
    if (this.closed) throw new Error('link to the centre closed');
    const res = await this.pool.request({
      path,
      method: r.method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', ...r.headers },
      body: r.body,
      headersTimeout: r.timeoutMs,
      bodyTimeout: r.timeoutMs,
    });
    return {
      status: res.statusCode,
      header: (name) => {
        const v = res.headers[name.toLowerCase()];
        return Array.isArray(v) ? v[0] : v;
      },
      json: () => res.body.json(),
      text: () => res.body.text(),
      discard: () => res.body.dump(),
    };
  }

  /** Aborts every request in flight and closes the connections. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.pool.destroy().catch(() => undefined);
  }
}
