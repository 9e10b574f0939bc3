/** Binary ⇄ base64 for the JSON artefact forms (weights and history stored in a database). */

export function encodeBase64(data: ArrayBufferView | ArrayBuffer): string {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(bytes).toString('base64');
}

/** A fresh, aligned ArrayBuffer (a Buffer's own may be a shared, unaligned pool slice). */
export function decodeBase64(text: string): ArrayBuffer {
  const buf = Buffer.from(text, 'base64');
  const out = new ArrayBuffer(buf.byteLength);
  new Uint8Array(out).set(buf);
  return out;
}
